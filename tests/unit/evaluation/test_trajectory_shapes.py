"""The shape rule on synthetic curves of each shape, the onset, and the moving average."""

import math
import random
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

# The study's log-spaced steps: 0, 1..9, 10..90, 100..900, 1000..9000, 10000.
STEPS = [0] + [k * 10**e for e in range(4) for k in range(1, 10)] + [10_000]
TOKENS_PER_STEP = 4 * 2**20


def curve(
    shape: Callable[[float], float], seed: int, noise: float = 0.02
) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    tokens = [s * TOKENS_PER_STEP for s in STEPS]
    positions = log_positions(tokens)
    return [
        (t, shape(x) + rng.uniform(-noise, noise)) for t, x in zip(tokens, positions, strict=True)
    ]


def gradual(x: float) -> float:
    return 0.1 + 0.6 * x


def two_stage(x: float) -> float:
    if x < 0.1:
        return 0.0
    if x < 0.2:
        return 0.33 * (x - 0.1) / 0.1
    if x < 0.75:
        return 0.33
    return 0.33 + 0.4 * (x - 0.75) / 0.25


def late(x: float) -> float:
    return 0.01 if x < 0.8 else 0.01 + 0.5 * (x - 0.8) / 0.2


def flat(x: float) -> float:
    return 0.25


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
