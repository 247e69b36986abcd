"""The shape rule on synthetic curves of each shape, the onset, and the moving average."""

import math
from collections.abc import Callable

import pytest

from kiseki.evaluation.trajectory import (
    FLAT,
    GRADUAL,
    LATE,
    TWO_STAGE,
    classify,
    log_positions,
    moving_average,
    onset,
)
from support.shapes import curve, flat, gradual, late, two_stage


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    ("shape", "baseline", "expected"),
    [
        (gradual, 0.1, GRADUAL),
        (two_stage, 0.33, TWO_STAGE),
        (two_stage, None, TWO_STAGE),
        (late, 0.0, LATE),
        (flat, 0.25, FLAT),
    ],
)
def test_each_synthetic_shape_is_recognised(
    shape: Callable[[float], float], baseline: float | None, expected: str, seed: int
) -> None:
    assert classify(curve(shape, seed), baseline).shape == expected


def test_a_plateau_far_from_the_baseline_is_not_two_stage() -> None:
    result = classify(curve(two_stage, 0), baseline=0.8)
    assert result.shape == GRADUAL
    assert result.plateau is None


def test_two_stage_reports_where_its_plateau_lies() -> None:
    points = curve(two_stage, 0)
    result = classify(points, baseline=0.33)
    assert result.plateau is not None
    tokens = [t for t, _ in points]
    position = dict(zip(tokens, log_positions(tokens), strict=True))
    assert position[result.plateau[0]] < 0.35
    assert position[result.plateau[1]] > 0.65


def test_shape_does_not_depend_on_the_token_unit() -> None:
    points = curve(late, 3)
    original = classify(points, 0.0)
    scaled = classify([(t * 1000, s) for t, s in points], 0.0)
    assert (scaled.shape, scaled.rise) == (original.shape, original.rise)
    assert original.onset_tokens is not None
    assert scaled.onset_tokens == original.onset_tokens * 1000


def test_onset_is_where_the_score_stays_above_baseline_plus_margin() -> None:
    points = [(10, 0.0), (20, 0.6), (30, 0.1), (40, 0.5), (50, 0.6), (60, 0.7)]
    assert onset(points, baseline=0.3, margin=0.05, window=1) == 40
    assert onset(points, baseline=0.7, margin=0.05, window=1) is None
    # Smoothed over two checkpoints: (0.1+0.5)/2 = 0.3 is not above 0.35, so 50.
    assert onset(points, baseline=0.3, margin=0.05, window=2) == 50


def test_moving_average_is_trailing_and_shorter_at_the_start() -> None:
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([1.0, 3.0], 20) == [1.0, 2.0]
    with pytest.raises(ValueError, match="window"):
        moving_average([1.0], 0)


def test_positions_fall_back_to_rank_without_tokens() -> None:
    assert log_positions([0, 0, 0]) == [0.0, 0.5, 1.0]
    positions = log_positions([0, 10, 100, 1000])
    assert positions[0] == 0.0
    assert math.isclose(positions[2], 0.5)


def test_too_short_a_trajectory_is_refused() -> None:
    with pytest.raises(ValueError, match="three"):
        classify([(1, 0.0), (2, 1.0)])
