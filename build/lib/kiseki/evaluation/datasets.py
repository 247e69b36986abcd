"""llm-jp-eval's preprocessed dataset format, read as it is.

Layout: `<root>/{train,dev,test}/<name>.json`, each file an object with `instruction`,
`output_length`, `metrics`, `few_shots`, `samples` (`input`, `output`) and optional newer
fields (`label_list`, `answer_extract_pattern`, `num_few_shots`, `answer_pattern_id`; other
fields are ignored). Few-shot examples are the first N samples of the train split, in order,
as llm-jp-eval takes them (N = 4 unless the dataset's `num_few_shots` says otherwise).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPLITS = ("train", "dev", "test")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
DEFAULT_NUM_FEW_SHOTS = 4


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Sample:
    input: str
    output: str


@dataclass(frozen=True)
class Dataset:
    name: str
    instruction: str
    output_length: int
    metrics: tuple[str, ...]
    samples: tuple[Sample, ...]
    label_list: tuple[str, ...] = ()
    answer_extract_pattern: str = ""
    num_few_shots: int | None = None
    few_shots: tuple[Sample, ...] = ()  # the file's own list (empty in llm-jp-eval v1 files)
    answer_pattern_id: str = ""


def _field(raw: dict[str, Any], name: str, kind: type, path: Path) -> Any:
    if name not in raw:
        raise DatasetError(f"{path}: missing field '{name}'")
    value = raw[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise DatasetError(
            f"{path}: field '{name}' must be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _samples(items: list[Any], field: str, path: Path) -> tuple[Sample, ...]:
    samples = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DatasetError(f"{path}: {field}[{index}] must be an object")
        for key in ("input", "output"):
            if not isinstance(item.get(key), str):
                raise DatasetError(f"{path}: {field}[{index}].{key} must be a string")
        samples.append(Sample(item["input"], item["output"]))
    return tuple(samples)


def _optional_text(raw: dict[str, Any], name: str, path: Path) -> str:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise DatasetError(f"{path}: field '{name}' must be a string")
    return value or ""


def read_dataset_file(path: Path) -> Dataset:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such dataset file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: expected a JSON object at the top level")
    metrics = _field(raw, "metrics", list, path)
    if not metrics or not all(isinstance(m, str) for m in metrics):
        raise DatasetError(f"{path}: field 'metrics' must be a non-empty list of names")
    labels = raw.get("label_list") or []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise DatasetError(f"{path}: field 'label_list' must be a list of strings")
    own_shots = raw.get("few_shots") or []
    if not isinstance(own_shots, list):
        raise DatasetError(f"{path}: field 'few_shots' must be a list")
    shots = raw.get("num_few_shots")
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 0):
        raise DatasetError(f"{path}: field 'num_few_shots' must be a non-negative integer")
    return Dataset(
        name=path.stem,
        instruction=_field(raw, "instruction", str, path),
        output_length=_field(raw, "output_length", int, path),
        metrics=tuple(metrics),
        samples=_samples(_field(raw, "samples", list, path), "samples", path),
        label_list=tuple(labels),
        answer_extract_pattern=_optional_text(raw, "answer_extract_pattern", path),
        num_few_shots=shots,
        few_shots=_samples(own_shots, "few_shots", path),
        answer_pattern_id=_optional_text(raw, "answer_pattern_id", path),
    )


def load_dataset(root: Path, name: str, split: str = "test") -> Dataset:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {SPLITS}")
    if not _PLAIN_NAME.fullmatch(name):
        # The name comes from a job message: it names a file under the root, never a path.
        raise DatasetError(f"dataset name {name!r} is not a plain name (letters, digits, _.-)")
    return read_dataset_file(root / split / f"{name}.json")


def few_shot_examples(
    root: Path, name: str, count: int = DEFAULT_NUM_FEW_SHOTS
) -> tuple[Sample, ...]:
    """The first `count` samples of the train split, in file order."""
    if count == 0:
        return ()
    train = load_dataset(root, name, "train")
    if len(train.samples) < count:
        raise DatasetError(
            f"{root / 'train' / (name + '.json')}: {count} few-shot examples wanted, "
            f"{len(train.samples)} available"
        )
    return train.samples[:count]
