"""A Megatron checkpoint's architecture, from the `args` Megatron-LM saves in every checkpoint
(megatron/training/arguments.py names), and the HuggingFace config it becomes.

Two families have an HF twin whose forward pass is the same computation: GPT-2 style
(LayerNorm, gelu, learned positions, biases) and Llama style (RMSNorm, SwiGLU, rope, GQA;
LLM-jp-3). Anything else is refused with the field that differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import GPT2Config, LlamaConfig, PretrainedConfig

from kiseki.conversion.hf_writer import ConversionError


@dataclass(frozen=True)
class Architecture:
    family: str  # "gpt2" or "llama"
    layers: int
    hidden: int
    ffn: int
    heads: int
    groups: int
    head_dim: int
    vocab: int  # the tokenizer's: Megatron's padding rows are dropped
    padded_vocab: int
    positions: int
    eps: float
    rope_base: float
    bias: bool
    tied: bool


def _field(args: Any, name: str, default: Any = None) -> Any:
    value = getattr(args, name, default)
    if value is None:
        raise ConversionError(f"checkpoint args have no {name!r}")
    return value


def _first(args: Any, names: tuple[str, ...], default: float) -> float:
    """Megatron-LM renamed some arguments (layernorm_epsilon → norm_epsilon)."""
    return next((float(v) for n in names if (v := getattr(args, n, None)) is not None), default)


def _family(args: Any) -> str:
    llama = {
        "normalization": "RMSNorm",
        "swiglu": True,
        "position_embedding_type": "rope",
    }
    gpt2 = {
        "normalization": "LayerNorm",
        "swiglu": False,
        "position_embedding_type": "learned_absolute",
    }
    for family, wanted in (("llama", llama), ("gpt2", gpt2)):
        if all(getattr(args, k, None) == v for k, v in wanted.items()):
            return family
    seen = {k: getattr(args, k, None) for k in llama}
    raise ConversionError(
        f"unknown architecture: args {seen} are neither GPT-2 style {gpt2} nor Llama style {llama}"
    )


def _refuse_unsupported(args: Any, family: str) -> None:
    for name, supported in (
        ("rotary_percent", 1.0),
        ("rotary_interleaved", False),
        ("qk_layernorm", False),
        ("num_experts", None),
    ):
        value = getattr(args, name, supported)
        if value != supported:
            raise ConversionError(f"args.{name}={value!r} is not supported (only {supported!r})")
    if getattr(args, "add_qkv_bias", args.add_bias_linear) != args.add_bias_linear:
        raise ConversionError("args.add_qkv_bias differs from args.add_bias_linear: no HF twin")
    if family == "gpt2" and not args.add_bias_linear:
        raise ConversionError("args.add_bias_linear=False: GPT-2 style needs biases")


def architecture(args: Any, vocab: int) -> Architecture:
    family = _family(args)
    _refuse_unsupported(args, family)
    heads, hidden = int(_field(args, "num_attention_heads")), int(_field(args, "hidden_size"))
    groups = getattr(args, "num_query_groups", None) if args.group_query_attention else None
    padded = int(_field(args, "padded_vocab_size"))
    if vocab > padded:
        raise ConversionError(f"the tokenizer has {vocab} tokens, args.padded_vocab_size {padded}")
    arch = Architecture(
        family=family,
        layers=int(_field(args, "num_layers")),
        hidden=hidden,
        ffn=int(getattr(args, "ffn_hidden_size", None) or 4 * hidden),
        heads=heads,
        groups=int(groups or heads),
        head_dim=int(getattr(args, "kv_channels", None) or hidden // heads),
        vocab=vocab,
        padded_vocab=padded,
        positions=int(_field(args, "max_position_embeddings")),
        eps=float(_first(args, ("norm_epsilon", "layernorm_epsilon"), 1e-5)),
        rope_base=_first(args, ("rotary_base",), 10000.0),
        bias=bool(args.add_bias_linear),
        tied=not getattr(args, "untie_embeddings_and_output_weights", False),
    )
    if family == "gpt2" and (arch.groups != heads or arch.head_dim * heads != hidden):
        raise ConversionError(
            "GPT-2 style needs num_query_groups = heads and kv_channels·heads = hidden"
        )
    return arch


def hf_config(arch: Architecture) -> PretrainedConfig:
    if arch.family == "gpt2":
        return GPT2Config(
            vocab_size=arch.vocab,
            n_positions=arch.positions,
            n_embd=arch.hidden,
            n_layer=arch.layers,
            n_head=arch.heads,
            n_inner=arch.ffn,
            activation_function="gelu",  # Megatron's default F.gelu is the exact one
            layer_norm_epsilon=arch.eps,
            tie_word_embeddings=arch.tied,
        )
    return LlamaConfig(
        vocab_size=arch.vocab,
        hidden_size=arch.hidden,
        intermediate_size=arch.ffn,
        num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads,
        num_key_value_heads=arch.groups,
        head_dim=arch.head_dim,
        max_position_embeddings=arch.positions,
        rms_norm_eps=arch.eps,
        rope_parameters={"rope_type": "default", "rope_theta": arch.rope_base},
        attention_bias=arch.bias,
        mlp_bias=arch.bias,
        tie_word_embeddings=arch.tied,
    )
