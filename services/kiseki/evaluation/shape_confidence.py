"""How much a trajectory's points support its shape, and "undetermined" when they do not.

`judge` applies the shape rule (`trajectory.classify`) and then asks three questions:

- enough checkpoints? Fewer than `min_points` (one moving-average window) cannot show a
  shape after smoothing: undetermined;
- is the change larger than the noise? The noise `sigma` is the spread of one checkpoint's
  score around the curve, estimated from consecutive differences (their median absolute
  deviation, so the jump of a two-stage curve does not count as noise). The rise the rule
  reads (last smoothed value minus the first) has a spread of sigma * sqrt(1 + 1/window);
  when twice that exceeds the rise (or, for a flat curve, the `min_rise` it claims was not
  reached) the points cannot tell the shape: undetermined;
- would other noise of the same size give the same shape? The scores are perturbed
  `resamples` times by Gaussian noise of that sigma (a fixed seed, so a report reads the same
  every time) and classified again; the confidence is the share that agree. Below
  `min_confidence`: undetermined.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kiseki.evaluation.trajectory import DEFAULT_RULE, Point, Shape, ShapeRule, classify

UNDETERMINED = "undetermined"
SEED = 22
# 1.4826 makes a median absolute deviation estimate a Gaussian's standard deviation; the
# difference of two checkpoints' noise has sqrt(2) times one checkpoint's.
_MAD_TO_SIGMA = 1.4826 / math.sqrt(2)


@dataclass(frozen=True)
class Judgement:
    shape: str  # one of the rule's shapes, or UNDETERMINED
    confidence: float  # share of perturbed copies classified alike; 0 when not computed
    noise: float  # sigma: one checkpoint's noise, in score units
    reason: str  # why undetermined; empty otherwise
    found: Shape | None  # what the rule alone says (None: too few checkpoints)


def noise_level(scores: Sequence[float]) -> float:
    differences = [b - a for a, b in itertools.pairwise(scores)]
    if len(differences) < 2:
        return 0.0
    centre = statistics.median(differences)
    return _MAD_TO_SIGMA * statistics.median(abs(d - centre) for d in differences)


def centred_mean(scores: Sequence[float], window: int) -> list[float]:
    """The curve without its noise: the mean of the `window` checkpoints centred on each
    (fewer at the ends)."""
    half = window // 2
    return [statistics.fmean(scores[max(0, i - half) : i + half + 1]) for i in range(len(scores))]


def _agreement(
    points: Sequence[Point], baseline: float | None, rule: ShapeRule, shape: str, sigma: float
) -> float:
    if sigma == 0.0:
        return 1.0
    curve = centred_mean([score for _, score in points], rule.window)
    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, sigma, (rule.resamples, len(points)))
    agree = 0
    for row in noise:
        copy = [(t, level + float(e)) for (t, _), level, e in zip(points, curve, row, strict=True)]
        agree += classify(copy, baseline, rule).shape == shape
    return agree / rule.resamples


def judge(
    points: Sequence[Point], baseline: float | None = None, rule: ShapeRule = DEFAULT_RULE
) -> Judgement:
    """The shape of one trajectory with its confidence, or UNDETERMINED and why."""
    if len(points) < max(3, rule.min_points):
        reason = f"{len(points)} checkpoints, fewer than {rule.min_points}"
        return Judgement(UNDETERMINED, 0.0, 0.0, reason, None)
    found = classify(points, baseline, rule)
    sigma = noise_level([score for _, score in points])
    spread = 2 * sigma * math.sqrt(1 + 1 / rule.window)
    if spread > max(found.rise, rule.min_rise):
        reason = f"noise ({sigma:.3g} a checkpoint) larger than the change ({found.rise:.3g})"
        return Judgement(UNDETERMINED, 0.0, sigma, reason, found)
    confidence = _agreement(points, baseline, rule, found.shape, sigma)
    if confidence < rule.min_confidence:
        reason = f"only {confidence:.0%} of noisy copies look {found.shape}"
        return Judgement(UNDETERMINED, confidence, sigma, reason, found)
    return Judgement(found.shape, confidence, sigma, "", found)
