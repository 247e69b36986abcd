"""Checkpoint formats: how each framework names a checkpoint and says it is complete.

- hf (`step_N`, `checkpoint-N`, `ckpt_N`, `iter_N`): save_pretrained's config.json parses and
  the weights are whole: `model.safetensors`, or an index whose every shard is whole;
- hf-trainer (`checkpoint-N`): trainer_state.json, which Trainer writes after the weights,
  optimizer and RNG state, parses; any safetensors present (and their index) are whole.
  Weights are not required, so `.bin`, PEFT and DeepSpeed Trainer checkpoints count too;
- megatron (`iter_NNNNNNN`): the root's latest_checkpointed_iteration.txt, written after every
  rank saved, has reached N; a torch_dist directory also has its `.metadata` and metadata.json;
- nemo2 (`...-step=N...`): no `<name>-unfinished` marker beside it, `weights/.metadata` and
  `weights/metadata.json` present. `...-last` directories repeat a step saved under its own
  name (a copy or a link), so they are not checkpoints of their own;
- deepspeed (`global_stepN`): the root's `latest` names a step of at least N;
- marker (the hf names): a file matching the run's marker glob exists inside.

A file cut short never passes: JSON needs its closing bracket, safetensors its full length, a
step number in a tracker file all its digits. The scanner's quiet period applies on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.completeness import (
    Incomplete,
    check_hf_weights,
    check_safetensors_present,
    read_json,
    regular_size,
    require_files,
)
from kiseki.watcher.runs import WatchedRun

GENERIC_DIR = re.compile(r"^(?:step|checkpoint|ckpt|iter)[_-]?(\d+)$")
NEMO_DIR = re.compile(r"^(?!.*-(?:unfinished|last)$).*-step=(\d+)(?:-.*)?$")
_CONSUMED_SAMPLES = re.compile(r"-consumed_samples=(\d+)(?:\.0+)?(?:-|$)")

# Raises Incomplete; returns tokens seen when the checkpoint records them itself, else None.
Check = Callable[[Path, WatchedRun], int | None]


@dataclass(frozen=True)
class Format:
    name: str
    proto: int
    directory: re.Pattern[str]
    check: Check

    def step(self, name: str) -> int | None:
        match = self.directory.match(name)
        return int(match.group(1)) if match else None


def _hf(directory: Path, run: WatchedRun) -> int | None:
    check_hf_weights(directory)
    return None


def _hf_trainer(directory: Path, run: WatchedRun) -> int | None:
    state = read_json(directory / "trainer_state.json")
    check_safetensors_present(directory)
    tokens = state.get("num_input_tokens_seen") if isinstance(state, dict) else None
    return int(tokens) if isinstance(tokens, int | float) and tokens > 0 else None


def _number_in(path: Path, pattern: str) -> int:
    regular_size(path)
    match = re.fullmatch(pattern, path.read_text(errors="replace").strip())
    if match is None:
        raise Incomplete(f"{path.name} does not name a step yet")
    return int(match.group(1))


def _megatron(directory: Path, run: WatchedRun) -> int | None:
    latest = _number_in(directory.parent / "latest_checkpointed_iteration.txt", r"(\d+)")
    if latest < int(directory.name.removeprefix("iter_")):
        raise Incomplete(f"latest checkpointed iteration is {latest}")
    if (directory / "metadata.json").exists() or any(directory.glob("*.distcp")):
        require_files(directory, ".metadata")
        read_json(directory / "metadata.json")
    return None


def _nemo2(directory: Path, run: WatchedRun) -> int | None:
    if directory.with_name(directory.name + "-unfinished").exists():
        raise Incomplete("NeMo's -unfinished marker is still there")
    require_files(directory, "weights/.metadata")
    read_json(directory / "weights" / "metadata.json")
    samples = _CONSUMED_SAMPLES.search(directory.name)
    if samples is None or not run.tokens_per_sample:
        return None
    return int(samples.group(1)) * run.tokens_per_sample


def _deepspeed(directory: Path, run: WatchedRun) -> int | None:
    latest = _number_in(directory.parent / "latest", r"global_step(\d+)")
    if latest < int(directory.name.removeprefix("global_step")):
        raise Incomplete(f"latest names global_step{latest}")
    return None


def _marker(directory: Path, run: WatchedRun) -> int | None:
    if not run.marker_glob or not any(directory.glob(run.marker_glob)):
        raise Incomplete(f"no file matching {run.marker_glob!r} yet")
    return None


FORMATS = {
    f.name: f
    for f in (
        Format("hf", ev.CHECKPOINT_FORMAT_HF, GENERIC_DIR, _hf),
        Format(
            "hf-trainer",
            ev.CHECKPOINT_FORMAT_HF_TRAINER,
            re.compile(r"^checkpoint-(\d+)$"),
            _hf_trainer,
        ),
        Format("megatron", ev.CHECKPOINT_FORMAT_MEGATRON, re.compile(r"^iter_(\d+)$"), _megatron),
        Format("nemo2", ev.CHECKPOINT_FORMAT_NEMO, NEMO_DIR, _nemo2),
        Format(
            "deepspeed",
            ev.CHECKPOINT_FORMAT_DEEPSPEED,
            re.compile(r"^global_step(\d+)$"),
            _deepspeed,
        ),
        Format("marker", ev.CHECKPOINT_FORMAT_MARKER, GENERIC_DIR, _marker),
    )
}


def detect(directory: Path, root: Path) -> Format | None:
    """The format a directory looks like, by its name and its root's bookkeeping files.

    `checkpoint-N` is taken for a Trainer checkpoint: a run that calls save_pretrained into
    such names configures format `hf`, since only the writer knows whether trainer_state.json
    is still to come."""
    name = directory.name
    for fmt in ("hf-trainer", "deepspeed", "nemo2"):
        if FORMATS[fmt].step(name) is not None:
            return FORMATS[fmt]
    if FORMATS["megatron"].step(name) is not None and (
        (root / "latest_checkpointed_iteration.txt").exists()
    ):
        return FORMATS["megatron"]
    if FORMATS["hf"].step(name) is not None and (directory / "config.json").exists():
        return FORMATS["hf"]
    return None
