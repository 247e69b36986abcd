"""The runs file: which training runs the watcher follows, read once at start.

A JSON list of objects, one per run:

- `run_id` (required): the run's name; part of every checkpoint id, so never rename it;
- `root` (required): the directory the training writes its checkpoints into; a relative
  path is taken from the runs file's directory;
- `format`: `auto` (default, told by the directory names) or one of `FORMAT_NAMES`;
- `tokens_per_step`: tokens per optimizer step (global batch × sequence length), 0 if unknown;
- `tokens_per_sample`: the sequence length, for formats that record consumed samples (NeMo 2
  names its directories `...-consumed_samples=N`), which stays right under batch-size ramp-up;
- `model_size`: a label such as "1.8b"; `tags`: an object of strings, copied into each
  checkpoint's metadata;
- `marker_glob`: for format `marker`, a glob matching a file that exists once a checkpoint
  is complete (e.g. `COMPLETE` or `*.done`);
- `tokenizer`: the run's HuggingFace tokenizer directory (tokenizer.json or tokenizer.model
  with tokenizer_config.json), copied into each converted checkpoint: required for the
  formats that carry none (`megatron`, `deepspeed`, `nemo2`); a relative path is taken from
  the runs file's directory, like `root`.

`tokens_seen` is the checkpoint's own count when it has one (trainer_state.json's
`num_input_tokens_seen`), else consumed samples × `tokens_per_sample`, else step ×
`tokens_per_step`. Any other key is an error naming the key and the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_NAMES = ("auto", "hf", "hf-trainer", "megatron", "nemo2", "deepspeed", "marker")
_KEY_TYPES: dict[str, type] = {
    "run_id": str,
    "root": str,
    "format": str,
    "tokens_per_step": int,
    "tokens_per_sample": int,
    "model_size": str,
    "tags": dict,
    "marker_glob": str,
    "tokenizer": str,
}
# Formats whose checkpoints hold no tokenizer: the run must name one.
NEEDS_TOKENIZER = ("megatron", "deepspeed", "nemo2")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


class RunsFileError(ValueError):
    """The runs file is malformed; the message names the file, the run and the key."""


@dataclass(frozen=True)
class WatchedRun:
    run_id: str
    root: Path
    format: str = "auto"
    tokens_per_step: int = 0
    tokens_per_sample: int = 0
    model_size: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    marker_glob: str = ""
    tokenizer: Path | None = None


def _checked(entry: Any, where: str) -> dict[str, Any]:
    """The entry's keys, each of the right type, or RunsFileError saying which is not."""
    if not isinstance(entry, dict):
        raise RunsFileError(f"{where} must be an object")
    for key, value in entry.items():
        if key not in _KEY_TYPES:
            raise RunsFileError(f"{where} has unknown key {key!r} (known: {sorted(_KEY_TYPES)})")
        wanted = _KEY_TYPES[key]
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise RunsFileError(f"{where}.{key} must be a JSON {wanted.__name__}, not {value!r}")
        if isinstance(value, int) and value < 0:
            raise RunsFileError(f"{where}.{key} must not be negative")
    tags = entry.get("tags", {})
    if not all(isinstance(v, str) for v in tags.values()):
        raise RunsFileError(f"{where}.tags must map strings to strings")
    for key in ("run_id", "root"):
        if not entry.get(key):
            raise RunsFileError(f"{where} needs a non-empty {key!r}")
    fmt = entry.get("format", "auto")
    if fmt not in FORMAT_NAMES:
        raise RunsFileError(f"{where}.format {fmt!r} is not one of {FORMAT_NAMES}")
    if fmt == "marker" and not entry.get("marker_glob"):
        raise RunsFileError(f"{where} has format 'marker' but no 'marker_glob'")
    return entry


def parse_runs(raw: Any, path: Path) -> list[WatchedRun]:
    if not isinstance(raw, list):
        raise RunsFileError(f"{path}: expected a JSON list of runs")
    runs: list[WatchedRun] = []
    for index, entry in enumerate(raw):
        values = _checked(entry, f"{path}: runs[{index}]")
        if any(run.run_id == values["run_id"] for run in runs):
            raise RunsFileError(f"{path}: runs[{index}].run_id {values['run_id']!r} is repeated")
        root = Path(values.pop("root"))
        tokenizer = _tokenizer(values.pop("tokenizer", ""), path, f"{path}: runs[{index}]")
        if tokenizer is None and values.get("format") in NEEDS_TOKENIZER:
            raise RunsFileError(
                f"{path}: runs[{index}] has format {values['format']!r}, whose checkpoints"
                " carry no tokenizer: name the run's tokenizer directory in 'tokenizer'"
            )
        run = WatchedRun(root=(path.parent / root).absolute(), tokenizer=tokenizer, **values)
        runs.append(run)
    return runs


def _tokenizer(value: str, path: Path, where: str) -> Path | None:
    """The tokenizer directory, checked now: a bad one found at the thousandth checkpoint's
    conversion would fail every checkpoint of the run."""
    if not value:
        return None
    directory = (path.parent / value).absolute()
    files = [directory / name for name in _TOKENIZER_FILES if (directory / name).is_file()]
    if not files:
        raise RunsFileError(
            f"{where}.tokenizer {str(directory)!r} holds none of {', '.join(_TOKENIZER_FILES)}"
        )
    config = directory / "tokenizer_config.json"
    try:
        for file in [*files, *([config] if config.exists() else [])]:
            data = file.read_bytes()
            if file.suffix == ".json":
                json.loads(data)
    except (OSError, ValueError) as error:
        raise RunsFileError(f"{where}.tokenizer: {error}") from None
    return directory


def load_runs(path: Path) -> list[WatchedRun]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RunsFileError(f"{path}: {error}") from None
    return parse_runs(raw, path)
