"""llm-jp-eval v2's prompt dumps and generated files, both directions.

A prompt dump (`<dataset>.eval-prompt.json`, what llm-jp-eval's `dump_prompts` writes and
llm-jp-eval-inference reads) is one JSON object per dataset: `target_dataset`,
`output_length`, `config` (its `output_length_delta` widens the budget) and `samples`, each
with the exact `prompt` (and, as llm-jp-eval writes them, `input`, `gold`, `system_prompt`).
A generated file (`<dataset>.eval-generated.json`, what llm-jp-eval's `evaluate` scores) is the
same object with each sample's `generated` text added, as llm-jp-eval-inference writes it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiseki.evaluation.datasets import Dataset, Sample

PROMPT_SUFFIX = ".eval-prompt.json"
GENERATED_SUFFIX = ".eval-generated.json"


class DumpError(ValueError):
    """A prompt dump is missing or malformed; the message names the file and the field."""


@dataclass(frozen=True)
class PromptDump:
    path: Path
    target_dataset: str
    max_new_tokens: int
    prompts: tuple[str, ...]
    document: dict[str, Any]

    def dataset(self) -> Dataset | None:
        """The dump as a dataset kiseki can score, when it holds metrics and every gold."""
        doc, samples = self.document, self.document["samples"]
        metrics = doc.get("metrics")
        if not isinstance(metrics, list) or not all(
            isinstance(s.get("gold"), str) for s in samples
        ):
            return None
        return Dataset(
            name=self.target_dataset,
            instruction=str(doc.get("instruction") or ""),
            output_length=int(doc["output_length"]),
            metrics=tuple(str(m) for m in metrics),
            samples=tuple(Sample(str(s.get("input", "")), s["gold"]) for s in samples),
            label_list=tuple(doc.get("label_list") or ()),
            answer_extract_pattern=str(doc.get("answer_extract_pattern") or ""),
            answer_pattern_id=str(doc.get("answer_pattern_id") or ""),
        )


def _require(document: dict[str, Any], name: str, kind: type, path: Path) -> Any:
    value = document.get(name)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise DumpError(f"{path}: field '{name}' must be {kind.__name__}, got {value!r}")
    return value


def read_prompt_dump(path: Path) -> PromptDump:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DumpError(f"{path}: not a readable JSON prompt dump ({error})") from None
    if not isinstance(document, dict):
        raise DumpError(f"{path}: expected a JSON object at the top level")
    name = _require(document, "target_dataset", str, path)
    length = _require(document, "output_length", int, path)
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise DumpError(f"{path}: field 'config' must be an object")
    delta = config.get("output_length_delta", 0)
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise DumpError(f"{path}: config.output_length_delta must be an integer, got {delta!r}")
    samples = _require(document, "samples", list, path)
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict) or not isinstance(sample.get("prompt"), str):
            raise DumpError(f"{path}: samples[{index}].prompt must be a string")
    labels = document.get("label_list") or []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise DumpError(f"{path}: field 'label_list' must be a list of strings, got {labels!r}")
    prompts = tuple(sample["prompt"] for sample in samples)
    return PromptDump(path, name, max(1, length + delta), prompts, document)


def generated_document(dump: PromptDump, outputs: Sequence[str]) -> dict[str, Any]:
    """The dump with each sample's generated text, as llm-jp-eval's evaluate reads it."""
    if len(outputs) != len(dump.prompts):
        raise ValueError(f"{len(outputs)} outputs for {len(dump.prompts)} prompts")
    document = copy.deepcopy(dump.document)
    for sample, text in zip(document["samples"], outputs, strict=True):
        sample["generated"] = text
    return document


def write_generated(document: dict[str, Any], out_dir: Path) -> Path:
    """`<out_dir>/<target_dataset>.eval-generated.json`, written whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{document['target_dataset']}{GENERATED_SUFFIX}"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    partial.replace(target)
    return target
