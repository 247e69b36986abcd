"""Megatron-LM's legacy layout (--ckpt-format torch): `iter_N/mp_rank_XX/model_optim_rng.pt`,
each tensor-parallel rank's own shard of every layer, merged back into global tensors.

Column-parallel weights (embeddings, output layer, QKV, fc1) were split on dim 0, row-parallel
ones (attention projection, fc2) on dim 1; norms and row-parallel biases are replicated. A
SwiGLU fc1 shard is that rank's [gate; up], so the gates and the ups are merged apart.
Pipeline-parallel saves (`mp_rank_XX_YYY`) are refused: their layers are numbered per stage.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from kiseki.conversion.hf_writer import ConversionError
from kiseki.conversion.megatron_layers import LOCAL_NORMS

_RANK_DIR = re.compile(r"^mp_rank_(\d{2})(?:_(\d{3}))?$")
_COLUMN = ("word_embeddings.weight", "output_layer.weight", "linear_qkv.weight",
           "linear_qkv.bias", "linear_fc1.weight", "linear_fc1.bias")  # fmt: skip
_ROW = ("linear_proj.weight", "linear_fc2.weight")


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConversionError(f"tensor-parallel shard {path} is missing")
    try:
        # weights_only=False: Megatron-LM pickles its argparse Namespace (args) beside the
        # weights, and this is the run's own training output.
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a torn zip raises RuntimeError, a torn pickle others
        raise ConversionError(f"{path} cannot be read: {error}") from None
    if not isinstance(state, dict) or "model" not in state or "args" not in state:
        raise ConversionError(f"{path} holds no 'model' and 'args' (not a Megatron-LM save)")
    return state


def _merge(key: str, shards: list[torch.Tensor], swiglu: bool) -> torch.Tensor:
    if key.endswith(_COLUMN):
        if swiglu and "linear_fc1." in key:
            gates, ups = zip(*(shard.chunk(2) for shard in shards), strict=True)
            return torch.cat([*gates, *ups])
        return torch.cat(shards, dim=0)
    if key.endswith(_ROW):
        return torch.cat(shards, dim=1)
    return shards[0]


def _global_name(key: str) -> str:
    for local, te in LOCAL_NORMS.items():
        key = key.replace("." + local, "." + te)
    return key


def read_legacy(directory: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    ranks = [m for p in directory.iterdir() if (m := _RANK_DIR.match(p.name))]
    if any(m.group(2) is not None for m in ranks):
        raise ConversionError(f"{directory}: pipeline-parallel mp_rank_XX_YYY is not supported yet")
    first = _load(directory / "mp_rank_00" / "model_optim_rng.pt")
    args = first["args"]
    tp = int(getattr(args, "tensor_model_parallel_size", 1))
    states = [first["model"]] + [
        _load(directory / f"mp_rank_{rank:02d}" / "model_optim_rng.pt")["model"]
        for rank in range(1, tp)
    ]
    swiglu = bool(getattr(args, "swiglu", False))
    merged: dict[str, torch.Tensor] = {}
    for key, value in first["model"].items():
        if "_extra_state" in key or not isinstance(value, torch.Tensor):
            continue
        shards = [state.get(key) for state in states]
        if any(shard is None for shard in shards):
            raise ConversionError(f"{directory}: {key!r} is missing from a tensor-parallel shard")
        merged[_global_name(key)] = _merge(key, [s for s in shards if s is not None], swiglu)
    return args, merged
