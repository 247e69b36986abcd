"""Framework checkpoints written by Megatron-Core, NeMo 2 and DeepSpeed (support.frameworks), copied
and damaged the ways a crashed writer or a bad copy leaves them, then converted; the
converter's error is raised as ConversionError, as the orchestrator's FAILED reason reads it."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import torch
from torch.distributed.checkpoint.filesystem import FileSystemReader

from kiseki.conversion.hf_writer import ConversionError
from kiseki.conversion.registry import convert
from kiseki.v1 import events_pb2 as ev
from support.frameworks import FRAMEWORKS_PYTHON, REPO, framework_fixtures

ITER = "iter_0000010"
NEMO2_STEP = "run/checkpoints/model--step=10-consumed_samples=20.0"
Damage = Callable[[Path], Path]  # the copied run root → the checkpoint directory to convert


def cut(path: Path, keep: float = 0.5) -> None:
    """What a writer killed mid-write leaves: the file's first part."""
    os.truncate(path, int(path.stat().st_size * keep))


def _copy(fixture: str, root: Path, group: str = "tensor") -> Path:
    shutil.copytree(framework_fixtures(group) / fixture, root, dirs_exist_ok=True)
    return root


def megatron(fixture: str, damage: Damage) -> Callable[[Path], object]:
    """`fixture` (e.g. megatron-gpt-tp1/torch_dist) damaged, converted in this process."""

    def run(tmp: Path) -> object:
        checkpoint = damage(_copy(fixture, tmp / "run"))
        tokenizer = framework_fixtures() / "tokenizer"
        convert(checkpoint, tmp / "hf", ev.CHECKPOINT_FORMAT_MEGATRON, tokenizer)
        return None

    return run


def nemo2(damage: Callable[[Path], object]) -> Callable[[Path], object]:
    """The NeMo 2 Llama checkpoint (`model--step=10-…/`) damaged, converted in this process."""

    def run(tmp: Path) -> object:
        checkpoint = _copy(f"nemo2-llama/{NEMO2_STEP}", tmp / "run", "nemo2")
        damage(checkpoint)
        tokenizer = framework_fixtures("nemo2") / "tokenizer"
        convert(checkpoint, tmp / "hf", ev.CHECKPOINT_FORMAT_NEMO, tokenizer)
        return None

    return run


def deepspeed(damage: Damage) -> Callable[[Path], object]:
    """The DeepSpeed run damaged, converted by `python -m kiseki.conversion` where deepspeed
    imports (.venv-frameworks); exit status 2 raises its `conversion failed:` reason."""

    def run(tmp: Path) -> object:
        checkpoint = damage(_copy("deepspeed-zero2/run", tmp / "run"))
        tokenizer = framework_fixtures() / "tokenizer"
        command = [str(FRAMEWORKS_PYTHON), "-m", "kiseki.conversion", str(checkpoint)]
        command += [str(tmp / "hf"), "--format", "deepspeed", "--tokenizer", str(tokenizer)]
        env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        reasons = [
            line for line in done.stderr.splitlines() if line.startswith("conversion failed")
        ]
        if done.returncode == 2 and reasons:
            raise ConversionError(reasons[-1])
        raise AssertionError(f"exit status {done.returncode}:\n{done.stderr[-3000:]}")

    return run


def fewer_rows(name: str, rank: int = 1) -> Damage:
    """One tensor-parallel rank's shard of `name` two rows short (legacy layout)."""

    def damage(root: Path) -> Path:
        path = root / ITER / f"mp_rank_{rank:02d}" / "model_optim_rng.pt"
        state = torch.load(path, weights_only=False)
        state["model"][name] = state["model"][name][:-2]
        torch.save(state, path)
        return root / ITER

    return damage


def metadata_column_short(fragment: str) -> Damage:
    """The torch_dist .metadata declaring one stacked tensor a column narrower than stored."""

    def damage(root: Path) -> Path:
        directory = root / ITER
        metadata = FileSystemReader(str(directory)).read_metadata()
        key = next(k for k in metadata.state_dict_metadata if fragment in k)
        item = metadata.state_dict_metadata[key]
        item.size = torch.Size([*item.size[:-1], item.size[-1] - 1])  # type: ignore[union-attr]
        (directory / ".metadata").write_bytes(pickle.dumps(metadata))
        return directory

    return damage
