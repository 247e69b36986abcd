"""The metric registry: per-sample values (what a store keeps per row) and dataset scores.

Per-sample metrics map (prediction, gold) to a value and a dataset scores their mean.
pearson and spearman exist only over a whole dataset: they have no per-sample value (the key
is absent from the sample's dict). comet_wmt22 also needs each sample's source text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kiseki.evaluation.metrics.comet import MetricUnavailable, comet_wmt22
from kiseki.evaluation.metrics.generation import (
    bleu_en,
    bleu_ja,
    rouge1,
    rouge2,
    rouge_lsum,
)
from kiseki.evaluation.metrics.math_equivalence import mathematical_equivalence
from kiseki.evaluation.metrics.numeric import exact_match_figure, pearson, spearman
from kiseki.evaluation.metrics.text import char_f1, exact_match, set_f1

__all__ = [
    "DATASET_LEVEL",
    "METRIC_NAMES",
    "PER_SAMPLE",
    "MetricUnavailable",
    "UnknownMetric",
    "dataset_scores",
    "score_samples",
]

PER_SAMPLE: Mapping[str, Callable[[str, str], float]] = {
    "exact_match": exact_match,
    "char_f1": char_f1,
    "set_f1": set_f1,
    "exact_match_figure": exact_match_figure,
    "mathematical_equivalence": mathematical_equivalence,
    "bleu_en": bleu_en,
    "bleu_ja": bleu_ja,
    "rouge1": rouge1,
    "rouge2": rouge2,
    "rougeLsum": rouge_lsum,
}
DATASET_LEVEL: Mapping[str, Callable[[Sequence[str], Sequence[str]], float]] = {
    "pearson": pearson,
    "spearman": spearman,
}
WITH_SOURCES = ("comet_wmt22",)
METRIC_NAMES = (*PER_SAMPLE, *DATASET_LEVEL, *WITH_SOURCES)


class UnknownMetric(ValueError):
    pass


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _check(metric_names: Sequence[str], predictions: Sequence[str], golds: Sequence[str]) -> None:
    unknown = [name for name in metric_names if name not in METRIC_NAMES]
    if unknown:
        raise UnknownMetric(f"unknown metrics {unknown}; available {sorted(METRIC_NAMES)}")
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} golds")


def score_samples(
    metric_names: Sequence[str],
    predictions: Sequence[str],
    golds: Sequence[str],
    sources: Sequence[str] | None = None,
) -> tuple[list[dict[str, float]], dict[str, float]]:
    """Per-sample values (one dict per sample) and the dataset score of each metric.

    `sources` (the sample inputs) are needed only by comet_wmt22; an empty dataset scores 0.
    """
    _check(metric_names, predictions, golds)
    per_sample: list[dict[str, float]] = [{} for _ in predictions]
    for name in metric_names:
        if name in DATASET_LEVEL:
            continue
        if name in PER_SAMPLE:
            values = [PER_SAMPLE[name](p, g) for p, g in zip(predictions, golds, strict=True)]
        elif sources is None:
            raise ValueError(f"{name} needs the samples' source texts (sources=...)")
        else:
            values = comet_wmt22(sources, predictions, golds)
        for row, value in zip(per_sample, values, strict=True):
            row[name] = value
    return per_sample, dataset_scores(metric_names, per_sample, predictions, golds)


def dataset_scores(
    metric_names: Sequence[str],
    per_sample: Sequence[Mapping[str, float]],
    predictions: Sequence[str],
    golds: Sequence[str],
) -> dict[str, float]:
    """The dataset score of each metric from per-sample values already known (a runner
    scores samples as they stream in; `score_samples` ends here too): their mean, and the
    dataset-level metrics from every prediction at once. Nothing is scored twice."""
    _check(metric_names, predictions, golds)
    if len(per_sample) != len(predictions):
        raise ValueError(f"{len(per_sample)} per-sample rows for {len(predictions)} predictions")
    scores: dict[str, float] = {}
    for name in metric_names:
        if name in DATASET_LEVEL:
            scores[name] = DATASET_LEVEL[name](predictions, golds)
        else:
            scores[name] = _mean([row[name] for row in per_sample])
    return scores
