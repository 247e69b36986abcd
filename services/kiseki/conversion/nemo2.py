"""NeMo 2 (`...-step=N.../` with `weights/` and `context/`): the weights are a Megatron-Core
torch_dist checkpoint whose tensors carry the `module.` prefix of NeMo's MegatronParallel
wrapper, read like a Megatron-LM one; the architecture is the model config NeMo dumps into
`context/model.yaml` (its GPTConfig / LlamaConfig under `config:`, Megatron-Core's
TransformerConfig field names), mapped onto the Megatron-LM argument names the Megatron
reader knows. NeMo's `context/io.json` is a fiddle graph that only NeMo can rebuild: unread.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kiseki.conversion.hf_writer import ConversionError, load_tokenizer, write_hf
from kiseki.conversion.megatron import read_dcp, unstacked
from kiseki.conversion.megatron_arch import architecture, hf_config
from kiseki.conversion.megatron_layers import Weights, to_hf

PREFIX = "module."
# The activations with an HF twin: SwiGLU's silu (Llama) and the exact gelu (GPT-2).
ACTIVATIONS = {"torch.nn.functional.silu": "silu", "torch.nn.functional.gelu": "gelu"}


def model_config(context: Path) -> dict[str, Any]:
    path = context / "model.yaml"
    try:
        model = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConversionError(f"{path} cannot be read: {error}") from None
    config = model.get("config") if isinstance(model, dict) else None
    if not isinstance(config, dict):
        raise ConversionError(f"{path} has no model 'config' mapping")
    return config


def _activation(config: dict[str, Any], path: str) -> str:
    spec = config.get("activation_func", {"_target_": "torch.nn.functional.gelu"})
    target = spec.get("_target_") if isinstance(spec, dict) else spec
    if target not in ACTIVATIONS:
        raise ConversionError(f"{path}: activation_func {target!r} is not supported")
    return ACTIVATIONS[str(target)]


def megatron_args(config: dict[str, Any], padded_vocab: int, path: str) -> argparse.Namespace:
    """The config under Megatron-LM's argument names; the padded vocabulary is the embedding's
    own row count (NeMo computes it at build time and does not store it)."""
    heads = config.get("num_attention_heads")
    groups = config.get("num_query_groups") or heads
    swiglu = bool(config.get("gated_linear_unit", False)) and _activation(config, path) == "silu"
    bias = bool(config.get("add_bias_linear", True))
    return argparse.Namespace(
        num_layers=config.get("num_layers"),
        hidden_size=config.get("hidden_size"),
        ffn_hidden_size=config.get("ffn_hidden_size"),
        num_attention_heads=heads,
        kv_channels=config.get("kv_channels"),
        group_query_attention=groups != heads,
        num_query_groups=groups,
        max_position_embeddings=config.get("seq_length"),
        position_embedding_type=config.get("position_embedding_type", "learned_absolute"),
        rotary_base=config.get("rotary_base", 10000),
        rotary_percent=config.get("rotary_percent", 1.0),
        normalization=config.get("normalization", "LayerNorm"),
        norm_epsilon=config.get("layernorm_epsilon", 1e-5),
        swiglu=swiglu,
        add_bias_linear=bias,
        add_qkv_bias=config.get("add_qkv_bias", bias),
        qk_layernorm=config.get("qk_layernorm", False),
        num_experts=config.get("num_moe_experts"),
        untie_embeddings_and_output_weights=not config.get(
            "share_embeddings_and_output_weights", True
        ),
        padded_vocab_size=padded_vocab,
    )


def convert(source: Path, destination: Path, tokenizer_dir: Path | None) -> None:
    if tokenizer_dir is None:
        raise ConversionError("NeMo 2 checkpoints' tokenizer must be named by the run")
    weights_dir, context = source / "weights", source / "context"
    for part in (weights_dir, context):
        if not part.is_dir():
            raise ConversionError(f"{part} is missing (a NeMo 2 checkpoint has weights/, context/)")
    tokenizer = load_tokenizer(tokenizer_dir)
    config = model_config(context)
    _, state = read_dcp(weights_dir)
    tensors = {key.removeprefix(PREFIX): tensor for key, tensor in state.items()}
    embedding = tensors.get("embedding.word_embeddings.weight")
    if embedding is None:
        raise ConversionError(f"{weights_dir} has no {PREFIX}embedding.word_embeddings.weight")
    args = megatron_args(config, int(embedding.shape[0]), str(context / "model.yaml"))
    arch = architecture(args, len(tokenizer))
    layered = unstacked(tensors, arch.layers)
    write_hf(
        destination, hf_config(arch), to_hf(Weights(layered, str(weights_dir)), arch), tokenizer
    )
