"""Numeric metrics: figure equality, MATH-style equivalence, and the dataset-level correlations.

pearson/spearman (as llm-jp-eval): once over the dataset; golds are read with float(),
predictions by deleting every character that is not a digit or '.' (unparsable: -2.0); a NaN
correlation (constant input) scores 0.0. Fewer than two samples, where scipy refuses, also
score 0.0.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence

_NOT_NUMBER = re.compile(r"[^0-9.]")


def parse_float(text: str) -> float:
    try:
        return float(_NOT_NUMBER.sub("", text))
    except ValueError:
        return -2.0


def exact_match_figure(prediction: str, gold: str) -> float:
    """1.0 when both read as the same float; text that is not a number scores 0."""
    try:
        return float(float(prediction) == float(gold))
    except ValueError:
        return 0.0


def _correlation(
    kind: Callable[..., object], predictions: Sequence[str], golds: Sequence[str]
) -> float:
    if len(predictions) < 2:
        return 0.0
    try:
        expected = [float(g) for g in golds]
    except ValueError:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input and returns NaN
        value = float(kind(expected, [parse_float(p) for p in predictions])[0])  # type: ignore[index]
    return 0.0 if math.isnan(value) else value


# scipy.stats is imported when a correlation is first asked for (about a second at start).
def pearson(predictions: Sequence[str], golds: Sequence[str]) -> float:
    from scipy.stats import pearsonr

    return _correlation(pearsonr, predictions, golds)


def spearman(predictions: Sequence[str], golds: Sequence[str]) -> float:
    from scipy.stats import spearmanr

    return _correlation(spearmanr, predictions, golds)
