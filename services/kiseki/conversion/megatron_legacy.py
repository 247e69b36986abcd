"""Megatron-LM's legacy layout (--ckpt-format torch): `iter_N/mp_rank_TT/model_optim_rng.pt`,
or `mp_rank_TT_PPP/` with pipeline stages, each rank's own shard of its stage's layers, merged
back into global tensors.

Column-parallel weights (embeddings, output layer, QKV, fc1) were split on dim 0, row-parallel
ones (attention projection, fc2) on dim 1; norms and row-parallel biases are replicated. A
SwiGLU fc1 shard is that rank's [gate; up], so the gates and the ups are merged apart. Each
stage numbers its layers from 0: a stage's layers follow those of the stages before it (so an
uneven split, as --decoder-first-pipeline-num-layers makes, is read the same way).
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
_LAYER = re.compile(r"^decoder\.layers\.(\d+)\.(.+)$")


def _load(path: Path, where: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConversionError(f"shard {path} is missing ({where})")
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


def _shard(directory: Path, rank: int, stage: int, staged: bool) -> Path:
    name = f"mp_rank_{rank:02d}" + (f"_{stage:03d}" if staged else "")
    return directory / name / "model_optim_rng.pt"


def _merge_stage(states: list[dict[str, Any]], swiglu: bool, where: str) -> dict[str, torch.Tensor]:
    """One stage's tensors from its tensor-parallel shards, under the stage's own names."""
    merged: dict[str, torch.Tensor] = {}
    for key, value in states[0].items():
        if "_extra_state" in key or not isinstance(value, torch.Tensor):
            continue
        shards = [state.get(key) for state in states]
        if any(shard is None for shard in shards):
            raise ConversionError(f"{where}: {key!r} is missing from a tensor-parallel shard")
        merged[key] = _merge(key, [s for s in shards if s is not None], swiglu)
    return merged


def _layers_from(
    stage: dict[str, torch.Tensor], offset: int
) -> tuple[dict[str, torch.Tensor], int]:
    """The stage's tensors under global names (its layers moved up by `offset`), and how many
    layers it holds."""
    out: dict[str, torch.Tensor] = {}
    count = 0
    for key, tensor in stage.items():
        match = _LAYER.match(key)
        if match:
            index = int(match.group(1))
            count = max(count, index + 1)
            key = f"decoder.layers.{index + offset}.{match.group(2)}"
        out[_global_name(key)] = tensor
    return out, count


def read_legacy(directory: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    ranks = [m for p in directory.iterdir() if (m := _RANK_DIR.match(p.name))]
    staged = any(m.group(2) is not None for m in ranks)
    first = _load(_shard(directory, 0, 0, staged), "the first tensor-parallel rank and stage")
    args = first["args"]
    tp = int(getattr(args, "tensor_model_parallel_size", 1))
    pp = int(getattr(args, "pipeline_model_parallel_size", 1))
    if staged != (pp > 1):
        layout = "mp_rank_TT_PPP" if staged else "mp_rank_TT"
        raise ConversionError(
            f"{directory}: args.pipeline_model_parallel_size is {pp} but the shards are {layout}"
        )
    swiglu = bool(getattr(args, "swiglu", False))
    merged: dict[str, torch.Tensor] = {}
    offset = 0
    for stage in range(pp):
        states = [
            first
            if (rank, stage) == (0, 0)
            else _load(
                _shard(directory, rank, stage, staged),
                f"tensor-parallel rank {rank} of {tp}, pipeline stage {stage} of {pp}",
            )
            for rank in range(tp)
        ]
        where = f"{directory} stage {stage}"
        tensors, count = _layers_from(
            _merge_stage([s["model"] for s in states], swiglu, where), offset
        )
        merged.update(tensors)
        offset += count
    return args, merged
