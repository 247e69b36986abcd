"""Megatron-Core tensor names and layouts → HuggingFace GPT-2 / Llama names and layouts.

`Weights` is the whole model with global (unsharded) tensors under Megatron-Core's names, one
layer at a time: `decoder.layers.{i}.<name>`, norms under the TE-style names
(`self_attention.linear_qkv.layer_norm_weight`, `mlp.linear_fc1.layer_norm_weight`) that
torch_dist checkpoints use whatever the layer spec. Packed QKV is [q × heads/groups, k, v]
per query group; SwiGLU fc1 is [gate; up].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from kiseki.conversion.hf_writer import ConversionError
from kiseki.conversion.megatron_arch import Architecture

# The local layer spec's own names, as the legacy layout stores them.
LOCAL_NORMS = {
    "input_layernorm.": "self_attention.linear_qkv.layer_norm_",
    "pre_mlp_layernorm.": "mlp.linear_fc1.layer_norm_",
}


class Weights:
    def __init__(self, tensors: Mapping[str, torch.Tensor], source: str) -> None:
        self.tensors, self.source = tensors, source

    def get(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        tensor = self.tensors.get(name)
        if tensor is None:
            raise ConversionError(f"{self.source} has no tensor {name!r}")
        if tuple(tensor.shape) != shape:
            raise ConversionError(
                f"{self.source}: {name!r} has shape {tuple(tensor.shape)}, the args say {shape}"
            )
        return tensor.float()

    def vocab_rows(self, name: str, arch: Architecture) -> torch.Tensor:
        return self.get(name, (arch.padded_vocab, arch.hidden))[: arch.vocab]


def _split_qkv(packed: torch.Tensor, arch: Architecture) -> tuple[torch.Tensor, ...]:
    per_group = arch.heads // arch.groups
    grouped = packed.reshape(arch.groups, per_group + 2, arch.head_dim, *packed.shape[1:])
    q = grouped[:, :per_group].reshape(arch.heads * arch.head_dim, *packed.shape[1:])
    k = grouped[:, per_group].reshape(arch.groups * arch.head_dim, *packed.shape[1:])
    v = grouped[:, per_group + 1].reshape(arch.groups * arch.head_dim, *packed.shape[1:])
    return q, k, v


def _qkv_rows(arch: Architecture) -> int:
    return (arch.heads + 2 * arch.groups) * arch.head_dim


def _llama_layer(w: Weights, i: int, arch: Architecture) -> dict[str, torch.Tensor]:
    m, h = f"decoder.layers.{i}.", f"model.layers.{i}."
    attn, ffn = arch.heads * arch.head_dim, arch.ffn
    out = {
        h + "input_layernorm.weight": w.get(
            m + LOCAL_NORMS["input_layernorm."] + "weight", (arch.hidden,)
        ),
        h + "post_attention_layernorm.weight": w.get(
            m + LOCAL_NORMS["pre_mlp_layernorm."] + "weight", (arch.hidden,)
        ),
        h + "self_attn.o_proj.weight": w.get(
            m + "self_attention.linear_proj.weight", (arch.hidden, attn)
        ),
        h + "mlp.down_proj.weight": w.get(m + "mlp.linear_fc2.weight", (arch.hidden, ffn)),
    }
    qkv = w.get(m + "self_attention.linear_qkv.weight", (_qkv_rows(arch), arch.hidden))
    fc1 = w.get(m + "mlp.linear_fc1.weight", (2 * ffn, arch.hidden))
    parts = {"weight": (qkv, fc1)}
    if arch.bias:
        out[h + "self_attn.o_proj.bias"] = w.get(
            m + "self_attention.linear_proj.bias", (arch.hidden,)
        )
        out[h + "mlp.down_proj.bias"] = w.get(m + "mlp.linear_fc2.bias", (arch.hidden,))
        parts["bias"] = (
            w.get(m + "self_attention.linear_qkv.bias", (_qkv_rows(arch),)),
            w.get(m + "mlp.linear_fc1.bias", (2 * ffn,)),
        )
    for kind, (packed, gate_up) in parts.items():
        for name, tensor in zip(("q", "k", "v"), _split_qkv(packed, arch), strict=True):
            out[f"{h}self_attn.{name}_proj.{kind}"] = tensor
        out[f"{h}mlp.gate_proj.{kind}"], out[f"{h}mlp.up_proj.{kind}"] = gate_up.chunk(2)
    return out


def _gpt2_layer(w: Weights, i: int, arch: Architecture) -> dict[str, torch.Tensor]:
    """HF GPT-2's Conv1D keeps weights as (in, out): every matrix is transposed."""
    m, h, d = f"decoder.layers.{i}.", f"transformer.h.{i}.", arch.hidden
    qkv = torch.cat(_split_qkv(w.get(m + "self_attention.linear_qkv.weight", (3 * d, d)), arch))
    qkv_bias = torch.cat(_split_qkv(w.get(m + "self_attention.linear_qkv.bias", (3 * d,)), arch))
    out = {
        h + "attn.c_attn.weight": qkv.t(),
        h + "attn.c_attn.bias": qkv_bias,
        h + "attn.c_proj.weight": w.get(m + "self_attention.linear_proj.weight", (d, d)).t(),
        h + "attn.c_proj.bias": w.get(m + "self_attention.linear_proj.bias", (d,)),
        h + "mlp.c_fc.weight": w.get(m + "mlp.linear_fc1.weight", (arch.ffn, d)).t(),
        h + "mlp.c_fc.bias": w.get(m + "mlp.linear_fc1.bias", (arch.ffn,)),
        h + "mlp.c_proj.weight": w.get(m + "mlp.linear_fc2.weight", (d, arch.ffn)).t(),
        h + "mlp.c_proj.bias": w.get(m + "mlp.linear_fc2.bias", (d,)),
    }
    for norm, hf in (("input_layernorm.", "ln_1."), ("pre_mlp_layernorm.", "ln_2.")):
        for kind in ("weight", "bias"):
            out[h + hf + kind] = w.get(m + LOCAL_NORMS[norm] + kind, (d,))
    return out


def to_hf(w: Weights, arch: Architecture) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if arch.family == "llama":
        out["model.embed_tokens.weight"] = w.vocab_rows("embedding.word_embeddings.weight", arch)
        out["model.norm.weight"] = w.get("decoder.final_layernorm.weight", (arch.hidden,))
        layer = _llama_layer
    else:
        out["transformer.wte.weight"] = w.vocab_rows("embedding.word_embeddings.weight", arch)
        positions = (arch.positions, arch.hidden)
        out["transformer.wpe.weight"] = w.get("embedding.position_embeddings.weight", positions)
        for kind in ("weight", "bias"):
            out[f"transformer.ln_f.{kind}"] = w.get(
                f"decoder.final_layernorm.{kind}", (arch.hidden,)
            )
        layer = _gpt2_layer
    embeddings = next(iter(out.values()))
    out["lm_head.weight"] = embeddings if arch.tied else w.vocab_rows("output_layer.weight", arch)
    for i in range(arch.layers):
        out.update(layer(w, i, arch))
    return {name: tensor.contiguous() for name, tensor in out.items()}
