"""Megatron-LM's `iter_N/`: a torch_dist checkpoint (`.metadata`, `__R_0.distcp`,
metadata.json) read through torch.distributed.checkpoint, or the legacy layout
(`mp_rank_TT[_PPP]/model_optim_rng.pt`, one file per tensor-parallel rank and pipeline
stage) merged here.

torch_dist stores global tensors (every rank's shard in its place, layers stacked on a leading
dimension), so tensor parallelism needs no merging; the args sit in its common state. Pipeline
stages are stored the same way (their layers at their global offsets), so they are read
without merging too.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.filesystem import FileSystemReader
from torch.distributed.checkpoint.metadata import TensorStorageMetadata
from torch.distributed.checkpoint.state_dict_loader import load as dcp_load

from kiseki.conversion.hf_writer import ConversionError, load_tokenizer, write_hf
from kiseki.conversion.megatron_arch import architecture, hf_config
from kiseki.conversion.megatron_layers import Weights, to_hf
from kiseki.conversion.megatron_legacy import read_legacy


def _read_dcp(directory: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    common, state = read_dcp(directory)
    if not common:
        raise ConversionError(f"{directory} has no common state (Megatron-LM's args) in its DCP")
    args = _args_in([entry for shard in common for entry in _listed(shard)], directory)
    return args, unstacked(state, int(getattr(args, "num_layers", 0)))


def read_dcp(directory: Path) -> tuple[list[Any], dict[str, torch.Tensor]]:
    """The common state's entries and every tensor of a Megatron-Core torch_dist checkpoint;
    `_extra_state` entries (TransformerEngine's FP8 metadata, no weights) and anything else
    stored as bytes are left unread, except the common state."""
    reader = FileSystemReader(str(directory))
    try:
        metadata = reader.read_metadata()
    except Exception as error:  # a torn or foreign .metadata: torch raises pickle errors too
        raise ConversionError(f"{directory / '.metadata'} cannot be read: {error}") from None
    _check_sizes(directory, metadata.storage_data)
    state: dict[str, Any] = {}
    for key, item in metadata.state_dict_metadata.items():
        if isinstance(item, TensorStorageMetadata):
            state[key] = torch.empty(item.size, dtype=item.properties.dtype)
        elif key.startswith("common_state"):
            state[key] = io.BytesIO()
    common = [key for key in state if key.startswith("common_state")]
    try:
        dcp_load(state, storage_reader=reader, no_dist=True)
    except CheckpointException as error:  # a BaseException: a missing or short __R_0.distcp
        raise ConversionError(
            f"{directory}: torch.distributed.checkpoint failed: {error}"
        ) from None
    return [state.pop(key) for key in common], state


def _check_sizes(directory: Path, storage: Any) -> None:
    """Every data file the .metadata lists (one or more per saving rank: a tensor-parallel
    rank or a pipeline stage) is there and as long as its offsets say: torch's own errors
    (a bare EOFError from its unpickler for a file cut short) name no file."""
    needed: dict[str, int] = {}
    for info in (storage or {}).values():
        name = str(info.relative_path)
        needed[name] = max(needed.get(name, 0), int(info.offset) + int(info.length))
    for name, size in sorted(needed.items()):
        path = directory / name
        if not path.is_file():
            raise ConversionError(f"shard {path} is missing (named by {directory / '.metadata'})")
        if path.stat().st_size < size:
            raise ConversionError(
                f"{path} is cut short: {path.stat().st_size} bytes, .metadata needs {size}"
            )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _args_in(entries: list[Any], directory: Path) -> Any:
    for entry in entries:
        if isinstance(entry, dict) and entry.get("args") is not None:
            return entry["args"]
    raise ConversionError(f"{directory}: the common state holds no 'args'")


def unstacked(state: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """`decoder.layers.X` of shape (layers, ...) → `decoder.layers.{i}.X`."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        name = key.removeprefix("decoder.layers.")
        if name == key or name.split(".", 1)[0].isdigit():
            out[key] = tensor
        elif tensor.shape[0] != layers:
            raise ConversionError(
                f"{key!r} stacks {tensor.shape[0]} layers, args.num_layers is {layers}"
            )
        else:
            out.update({f"decoder.layers.{i}.{name}": tensor[i] for i in range(layers)})
    return out


def convert(source: Path, destination: Path, tokenizer_dir: Path | None) -> None:
    if tokenizer_dir is None:
        raise ConversionError("Megatron checkpoints carry no tokenizer: the run must name one")
    tokenizer = load_tokenizer(tokenizer_dir)
    if (source / ".metadata").exists():
        args, tensors = _read_dcp(source)
    elif any(source.glob("mp_rank_*")):
        args, tensors = read_legacy(source)
    else:
        raise ConversionError(f"{source} has neither .metadata (torch_dist) nor mp_rank_* (legacy)")
    arch = architecture(args, len(tokenizer))
    weights = to_hf(Weights(tensors, str(source)), arch)
    write_hf(destination, hf_config(arch), weights, tokenizer)
