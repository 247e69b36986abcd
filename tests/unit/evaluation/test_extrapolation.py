"""Interpolation at equal tokens and a sigmoid's prediction, held out against known curves."""

from __future__ import annotations

import math
import random

import pytest

from kiseki.evaluation.extrapolation import at_tokens, fit_sigmoid


def test_scores_are_interpolated_on_the_log_token_axis() -> None:
    points = [(1_000, 0.2), (100_000, 0.6), (1_000_000, 0.7)]
    assert at_tokens(points, 10_000) == pytest.approx(0.4)  # halfway on the log axis
    assert at_tokens(points, 100_000) == pytest.approx(0.6)
    assert at_tokens(points, 10) is None
    assert at_tokens(points, 10**7) is None
    assert at_tokens([(0, 0.1), (1_000, 0.2)], 1_000) == 0.2  # 0 tokens has no log position


def _sigmoid(tokens: float) -> float:
    return 0.25 + 0.6 / (1 + math.exp(-3.0 * (math.log10(tokens) - 9.0)))


def test_a_sigmoid_fitted_on_two_thirds_predicts_the_held_out_third() -> None:
    rng = random.Random(7)
    tokens = [int(10 ** (6 + 6 * i / 29)) for i in range(30)]
    points = [(t, _sigmoid(t) + rng.gauss(0, 0.02)) for t in tokens]
    fit = fit_sigmoid(points[:20])
    assert fit.low == pytest.approx(0.25, abs=0.05)
    assert fit.middle == pytest.approx(9.0, abs=0.3)
    inside = 0
    for t, score in points[20:]:
        value, low, high = fit.predict(t)
        assert low < value < high
        inside += low <= score <= high
        assert value == pytest.approx(_sigmoid(t), abs=0.1)
    assert inside >= 9  # of 10 held-out checkpoints, within the ~95 % interval


def test_too_few_points_say_so() -> None:
    with pytest.raises(ValueError, match="at least 5 checkpoints"):
        fit_sigmoid([(10, 0.1), (100, 0.2)])
