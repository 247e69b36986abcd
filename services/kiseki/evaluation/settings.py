"""What a team configures in llm-jp-eval, per run and per dataset, as one typed value.

The keys are llm-jp-eval's own (v1.4.1's `config_base.yaml` and `metainfo`, v2's answer
patterns), so a configuration reads the same in both tools:

- `data_type`: the split evaluated, `dev` or `test` (LLM-jp's scripts evaluate `dev`);
- `max_num_samples`: the first N samples of that split, as llm-jp-eval takes them; -1 = all;
- `num_few_shots`: few-shot examples from the train split; a dataset file's own count wins
  over the run's (llm-jp-eval's rule), a count set in the dataset's own policy section wins
  over both;
- `output_length_delta`: added to the dataset's `output_length` (the generation budget);
- `postprocess`: `llm-jp-eval-1.3`, `llm-jp-eval-1.4`, `v2` (or `v2:<answer_pattern_id>`),
  `none`; `default_answer_extract_pattern` is v1.4's default when a dataset has no pattern,
  `answer_extract_pattern` replaces the dataset's own, `answer_pattern_id` the dataset's v2
  pattern (`custom` takes the extract pattern);
- `prompt_template`: `v1` or `v2`; `custom_prompt_template` / `custom_fewshots_template`:
  llm-jp-eval's custom templates (see prompts.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiseki.evaluation.datasets import DEFAULT_NUM_FEW_SHOTS, Dataset
from kiseki.evaluation.postprocess import ANSWER_PATTERNS, POSTPROCESS_MODES
from kiseki.evaluation.prompts import TEMPLATES

SPLITS = ("dev", "test")


class SettingsError(ValueError):
    """An evaluation setting is wrong; the message names the key."""


@dataclass(frozen=True)
class EvalSettings:
    data_type: str = "test"
    max_num_samples: int = -1
    num_few_shots: int = DEFAULT_NUM_FEW_SHOTS
    # Set by a dataset's own policy section naming num_few_shots; not a key of its own.
    few_shots_forced: bool = False
    output_length_delta: int = 0
    postprocess: str = "llm-jp-eval-1.3"
    default_answer_extract_pattern: str = ""
    answer_extract_pattern: str = ""
    answer_pattern_id: str = ""
    prompt_template: str = "v1"
    custom_prompt_template: str = ""
    custom_fewshots_template: str = ""

    def shots(self, dataset: Dataset) -> int:
        if self.few_shots_forced or dataset.num_few_shots is None:
            return self.num_few_shots
        return dataset.num_few_shots

    def digest(self) -> str:
        """A short hash of every setting: stored with each score, so trajectories measured
        under different settings are never mixed unknowingly."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def updated(self, raw: Mapping[str, Any], where: str) -> EvalSettings:
        """These settings with the keys of `raw` replaced, each checked (SettingsError)."""
        unknown = set(raw) - KEYS
        if unknown:
            raise SettingsError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(KEYS)}")
        values = {key: _checked(key, value, f"{where}.{key}") for key, value in raw.items()}
        return dataclasses.replace(self, **values)


KEYS = frozenset(f.name for f in dataclasses.fields(EvalSettings)) - {"few_shots_forced"}


def _integer(value: Any, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SettingsError(f"{where}: expected an integer ≥ {low}, got {value!r}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise SettingsError(f"{where}: expected a string, got {value!r}")
    return value


def _pattern(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        re.compile(text)
    except re.error as error:
        raise SettingsError(f"{where}: not a regular expression ({error})") from None
    return text


def _choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise SettingsError(f"{where}: expected one of {list(allowed)}, got {value!r}")
    return str(value)


def _checked(key: str, value: Any, where: str) -> Any:
    if key == "data_type":
        return _choice(value, where, SPLITS)
    if key == "max_num_samples":
        if value != -1:
            _integer(value, where + " (-1 for all)", 1)
        return value
    if key == "num_few_shots":
        return _integer(value, where, 0)
    if key == "output_length_delta":
        return _integer(value, where, -(2**31))
    if key == "postprocess":
        return _choice(value, where, POSTPROCESS_MODES)
    if key == "answer_pattern_id":
        return _choice(value, where, ("", "custom", *ANSWER_PATTERNS))
    if key == "prompt_template":
        return _choice(value, where, TEMPLATES)
    if key in ("default_answer_extract_pattern", "answer_extract_pattern"):
        return _pattern(value, where)
    return _text(value, where)
