"""Scoring a file of model outputs against llm-jp-eval datasets, with no model in the loop.

Predictions file: JSON Lines (one record per line) or one JSON array of records. A record:
  {"dataset": NAME, "index": I, "output": RAW_GENERATION}
`index` is the sample's position in the split the settings name (test unless `data_type`
says dev); instead of it a record may give `input` (the sample's input text, matched exactly).
`prediction` may stand for `output`. Every dataset named must have all its samples predicted
(the first `max_num_samples` of them when the settings cap it). Outputs are scored by the
evaluation pipeline the runner uses, under the same settings.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kiseki.evaluation.datasets import DatasetError, Sample, load_dataset
from kiseki.evaluation.metrics import MetricUnavailable, UnknownMetric
from kiseki.evaluation.pipeline import Task, score_recorded
from kiseki.evaluation.registry import V141_CATEGORIES, CategoryMap, aggregate
from kiseki.evaluation.settings import EvalSettings

Predictions = Mapping[str, Mapping[int | str, str]]


class PredictionsError(ValueError):
    pass


def _records(path: Path) -> list[tuple[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PredictionsError(f"{path}: {error}") from None
    if text.lstrip().startswith("["):
        try:
            return [(f"{path}[{i}]", r) for i, r in enumerate(json.loads(text))]
        except json.JSONDecodeError as error:
            raise PredictionsError(f"{path}: not a JSON array ({error})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append((f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as error:
                raise PredictionsError(f"{path}:{number}: not JSON ({error})") from None
    return records


def _key(record: dict[str, Any]) -> int | str:
    if "index" in record:
        index = record["index"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise TypeError("'index' must be a non-negative integer")
        return int(index)
    if isinstance(record.get("input"), str):
        return str(record["input"])
    raise KeyError("'index' or 'input'")


def read_predictions(path: Path) -> dict[str, dict[int | str, str]]:
    """{dataset: {index or input: raw output}} from a predictions file."""
    by_dataset: dict[str, dict[int | str, str]] = defaultdict(dict)
    for where, record in _records(path):
        try:
            output = record.get("output", record.get("prediction"))
            if not isinstance(record["dataset"], str) or not isinstance(output, str):
                raise TypeError("'dataset' and 'output' must be strings")
            by_dataset[record["dataset"]][_key(record)] = output
        except (KeyError, TypeError, AttributeError) as error:
            raise PredictionsError(f"{where}: not a prediction record ({error})") from None
    return dict(by_dataset)


def _raw_outputs(samples: Sequence[Sample], outputs: Mapping[int | str, str]) -> list[str]:
    keyed = [outputs.get(i, outputs.get(s.input)) for i, s in enumerate(samples)]
    missing = [i for i, output in enumerate(keyed) if output is None]
    if missing:
        raise PredictionsError(f"{len(missing)} samples without a prediction, first {missing[0]}")
    return [output for output in keyed if output is not None]


def score_offline(
    datasets_dir: Path,
    predictions: Predictions,
    settings: Callable[[str], EvalSettings] = lambda name: EvalSettings(),
    categories: CategoryMap = V141_CATEGORIES,
) -> dict[str, object]:
    """{"datasets": {name: {metric: score}}, "categories": {CATEGORY: score, "AVG": score}}
    plus "errors": {name: message} for datasets that could not be scored."""
    scores: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for name, outputs in sorted(predictions.items()):
        try:
            chosen = settings(name)
            task = Task(load_dataset(datasets_dir, name, chosen.data_type), chosen, ())
            scores[name] = score_recorded(task, _raw_outputs(task.samples, outputs))[1]
        except (DatasetError, PredictionsError, UnknownMetric, MetricUnavailable) as error:
            errors[name] = str(error)
        except ValueError as error:  # e.g. an unknown answer pattern in the dataset
            errors[name] = f"{type(error).__name__}: {error}"
    result: dict[str, object] = {"datasets": scores, "categories": aggregate(scores, categories)}
    if errors:
        result["errors"] = errors
    return result
