"""The metric registry: per-sample values (what a store keeps per row) and dataset scores.

Per-sample metrics map (prediction, gold) to a value and a dataset scores their mean.
pearson and spearman exist only over a whole dataset: they have no per-sample value (the key
is absent from the sample's dict). The batched ones score a whole part of the samples at once
through a plug-in installed at run time: comet_wmt22 (also given each sample's source text)
and code_exec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kiseki.evaluation.metrics.code_exec import code_exec, require_code_runner
from kiseki.evaluation.metrics.comet import MetricUnavailable, comet_wmt22, require_comet_scorer
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
    "require_plugins",
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
BatchMetric = Callable[[Sequence[str], Sequence[str], Sequence[str]], list[float]]
# (sources, predictions, golds) -> one value per sample
BATCHED: Mapping[str, BatchMetric] = {
    "comet_wmt22": comet_wmt22,
    "code_exec": lambda sources, predictions, golds: code_exec(predictions, golds),
}
PLUGINS: Mapping[str, Callable[[], object]] = {
    "comet_wmt22": require_comet_scorer,
    "code_exec": require_code_runner,
}
WITH_SOURCES = ("comet_wmt22",)
METRIC_NAMES = (*PER_SAMPLE, *DATASET_LEVEL, *BATCHED)


class UnknownMetric(ValueError):
    pass


def require_plugins(metric_names: Sequence[str]) -> None:
    """MetricUnavailable, saying what to install, when a metric's plug-in is missing: a job
    fails at its start rather than after its samples were generated."""
    for name in metric_names:
        if name in PLUGINS:
            PLUGINS[name]()


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
        elif sources is None and name in WITH_SOURCES:
            raise ValueError(f"{name} needs the samples' source texts (sources=...)")
        else:
            values = BATCHED[name](sources or [""] * len(predictions), predictions, golds)
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
