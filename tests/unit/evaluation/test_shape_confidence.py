"""The shape rule's confidence on curves of known shape with noise, and "undetermined" when the
points do not support a shape (too few of them, noise larger than the change)."""

import random

import pytest

from kiseki.evaluation.shape_confidence import UNDETERMINED, judge, noise_level
from kiseki.evaluation.trajectory import FLAT, GRADUAL, LATE, TWO_STAGE, classify
from support.shapes import STEPS, TOKENS_PER_STEP, curve, flat, gradual, late, two_stage

# Of the planted curves (5 cases × 2 noise levels × 20 seeds), at least this share must be
# judged their own shape with at least MIN_CONFIDENT confidence; none may be judged another.
ACCURACY = 0.95
MIN_CONFIDENT = 0.6
PLANTED = [
    (gradual, 0.1, GRADUAL),
    (two_stage, 0.33, TWO_STAGE),
    (two_stage, None, TWO_STAGE),
    (late, 0.0, LATE),
    (flat, 0.25, FLAT),
]


def test_planted_shapes_are_recognised_with_confidence() -> None:
    right = wrong = total = 0
    for shape, baseline, expected in PLANTED:
        for noise in (0.02, 0.04):
            for seed in range(20):
                judged = judge(curve(shape, seed, noise), baseline)
                total += 1
                right += judged.shape == expected and judged.confidence >= MIN_CONFIDENT
                wrong += judged.shape not in (expected, UNDETERMINED)
    assert right / total >= ACCURACY
    assert wrong == 0


def _pure_noise(seed: int, sigma: float) -> list[tuple[int, float]]:
    rng = random.Random(seed)
    return [(s * TOKENS_PER_STEP, 0.3 + rng.gauss(0, sigma)) for s in STEPS]


@pytest.mark.parametrize("seed", range(20))
def test_pure_noise_is_undetermined(seed: int) -> None:
    """Noise as large as the smallest rise the rule counts (0.1): no shape can be told, though
    the rule alone names one."""
    points = _pure_noise(seed, 0.1)
    judged = judge(points, baseline=0.3)
    assert judged.shape == UNDETERMINED
    assert judged.found is not None
    assert judged.found.shape == classify(points, 0.3).shape
    assert judged.reason


def test_three_points_are_undetermined() -> None:
    judged = judge([(10, 0.0), (100, 0.5), (1000, 1.0)])
    assert (judged.shape, judged.confidence, judged.found) == (UNDETERMINED, 0.0, None)
    assert "3 checkpoints" in judged.reason


@pytest.mark.parametrize("seed", range(5))
def test_a_rise_smaller_than_its_noise_is_undetermined(seed: int) -> None:
    """A real rise of 0.15 under noise of 0.15 a checkpoint."""
    rng = random.Random(seed)
    points = [(t, s + rng.gauss(0, 0.15)) for t, s in curve(lambda x: 0.3 + 0.15 * x, seed, 0)]
    judged = judge(points, 0.3)
    assert judged.shape == UNDETERMINED


def test_the_noise_level_ignores_a_jump() -> None:
    rng = random.Random(0)
    scores = [rng.gauss(0, 0.05) for _ in range(40)] + [1 + rng.gauss(0, 0.05) for _ in range(40)]
    assert noise_level(scores) == pytest.approx(0.05, rel=0.3)


def test_the_same_points_are_judged_alike_every_time() -> None:
    points = curve(late, 1, noise=0.04)
    assert judge(points, 0.0) == judge(points, 0.0)
