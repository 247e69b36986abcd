"""Reference points for base models early in pretraining.

majority baseline: the score of always answering the most frequent output among the few-shot
examples (ties: the first seen), under the dataset's first metric.
format following: the share of post-processed answers in the expected form: a member of the
label list when the dataset has one; a number when every gold is a number; else non-empty.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.metrics import score_samples
from kiseki.evaluation.postprocess import normalize

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


def majority_label(few_shots: Sequence[Sample]) -> str:
    if not few_shots:
        raise ValueError("a majority baseline needs at least one few-shot example")
    counts = Counter(s.output for s in few_shots)
    best = max(counts.values())
    return next(s.output for s in few_shots if counts[s.output] == best)


def majority_baseline(
    dataset: Dataset, few_shots: Sequence[Sample], samples: Sequence[Sample] | None = None
) -> float:
    """The dataset's first metric for answering the majority label on every sample (all of
    the dataset's unless `samples` says which; pearson and spearman score 0 for such a
    constant answer, as llm-jp-eval scores NaN)."""
    answer = normalize(majority_label(few_shots))
    golds = [normalize(s.output) for s in (dataset.samples if samples is None else samples)]
    metric = dataset.metrics[0]
    return score_samples([metric], [answer] * len(golds), golds)[1][metric]


def is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip().replace(",", "")) is not None


def format_check(dataset: Dataset) -> Callable[[str], bool]:
    """Whether a prediction has the form of the dataset's answers: one of its labels, a number
    when every gold answer is one, else any non-blank text. The dataset is read once here,
    not once per prediction (a per-sample scan of a 1,000-sample set cost a runner seconds)."""
    if dataset.label_list:
        labels = frozenset(dataset.label_list)
        return lambda prediction: prediction in labels
    if dataset.samples and all(is_number(s.output) for s in dataset.samples):
        return is_number
    return lambda prediction: bool(prediction.strip())


def format_following_rate(dataset: Dataset, predictions: Sequence[str]) -> float:
    follows = format_check(dataset)
    return sum(follows(p) for p in predictions) / max(1, len(predictions))
