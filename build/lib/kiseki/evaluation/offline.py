"""Scoring a file of model outputs against llm-jp-eval datasets, with no model in the loop.

Predictions file: JSON Lines (one record per line) or one JSON array of records. A record:
  {"dataset": NAME, "index": I, "output": RAW_GENERATION}
`index` is the sample's position in the dataset's test split; instead of it a record may give
`input` (the sample's input text, matched exactly). `prediction` may stand for `output`. Every
dataset named must have all its samples predicted. Outputs are post-processed with the chosen
mode (the dataset's answer_extract_pattern / answer_pattern_id apply), golds NFKC-normalised.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiseki.evaluation.baselines import format_following_rate
from kiseki.evaluation.datasets import Dataset, DatasetError, load_dataset
from kiseki.evaluation.metrics import MetricUnavailable, UnknownMetric, score_samples
from kiseki.evaluation.postprocess import normalize_gold, postprocess
from kiseki.evaluation.registry import V141_CATEGORIES, CategoryMap, aggregate

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


def _raw_outputs(dataset: Dataset, outputs: Mapping[int | str, str]) -> list[str]:
    keyed = [outputs.get(i, outputs.get(s.input)) for i, s in enumerate(dataset.samples)]
    missing = [i for i, output in enumerate(keyed) if output is None]
    if missing:
        raise PredictionsError(f"{len(missing)} samples without a prediction, first {missing[0]}")
    return [output for output in keyed if output is not None]


def score_dataset(dataset: Dataset, raw_outputs: list[str], mode: str) -> dict[str, float]:
    """Dataset scores of the post-processed outputs, plus format_following."""
    pattern, pattern_id = dataset.answer_extract_pattern, dataset.answer_pattern_id
    predicted = [postprocess(raw, mode, pattern, pattern_id) for raw in raw_outputs]
    golds = [normalize_gold(s.output, mode) for s in dataset.samples]
    sources = [s.input for s in dataset.samples]
    scores = score_samples(dataset.metrics, predicted, golds, sources)[1]
    return {**scores, "format_following": format_following_rate(dataset, predicted)}


def score_offline(
    datasets_dir: Path,
    predictions: Predictions,
    mode: str = "llm-jp-eval-1.3",
    categories: CategoryMap = V141_CATEGORIES,
) -> dict[str, object]:
    """{"datasets": {name: {metric: score}}, "categories": {CATEGORY: score, "AVG": score}}
    plus "errors": {name: message} for datasets that could not be scored."""
    scores: dict[str, dict[str, float]] = {}
    errors: dict[str, str] = {}
    for name, outputs in sorted(predictions.items()):
        try:
            dataset = load_dataset(datasets_dir, name)
            scores[name] = score_dataset(dataset, _raw_outputs(dataset, outputs), mode)
        except (DatasetError, PredictionsError, UnknownMetric, MetricUnavailable) as error:
            errors[name] = str(error)
        except ValueError as error:  # e.g. an unknown answer pattern in the dataset
            errors[name] = f"{type(error).__name__}: {error}"
    result: dict[str, object] = {"datasets": scores, "categories": aggregate(scores, categories)}
    if errors:
        result["errors"] = errors
    return result
