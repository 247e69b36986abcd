"""Trajectory maths: moving average, the onset of an ability, and the shape of a curve.

A trajectory is a category's score per checkpoint, in step order, with the tokens seen at
each. Positions are measured on the log-token axis, scaled to [0, 1] between the first
checkpoint that saw tokens and the last (a checkpoint at 0 tokens sits at 0); without
tokens the checkpoint's rank is used instead.

The shape rule (`classify`), applied to the trailing moving average `s` of the scores:

- rise = s[-1] - s[0]; below `min_rise` the curve is **flat** (no ability emerged);
- **two-stage**: a plateau, i.e. consecutive checkpoints spanning at least `plateau_span`
  of the axis whose scores stay within `plateau_tol` x rise of each other, which starts in
  the first `early` of the axis, sits between 15 % and 85 % of the rise (a real first jump
  and a real second rise), and, when a baseline is known, lies within `near_baseline` of it;
- **late-emerging**: the score stays within 20 % of the rise above its start until at
  least `late` of the axis (near zero until late);
- **gradual** otherwise: it rises through training.

The onset (`onset`) is the first checkpoint after which the moving average stays strictly
above baseline + margin; the store's `onsets` view computes the same thing in SQL.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[int, float]  # (tokens seen, score), in step order

FLAT, GRADUAL, TWO_STAGE, LATE = "flat", "gradual", "two-stage", "late-emerging"


@dataclass(frozen=True)
class ShapeRule:
    window: int = 5
    min_rise: float = 0.1
    plateau_span: float = 0.25
    plateau_tol: float = 0.15
    early: float = 0.6
    near_baseline: float = 0.1
    late: float = 0.7
    start_band: float = 0.2
    onset_margin: float = 0.05
    # How sure a shape must be (shape_confidence.judge): at least one moving-average window
    # of checkpoints, and this share of noisy copies classified alike out of `resamples`.
    min_points: int = 5
    min_confidence: float = 0.6
    resamples: int = 50


DEFAULT_RULE = ShapeRule()


@dataclass(frozen=True)
class Shape:
    shape: str
    rise: float
    onset_tokens: int | None
    plateau: tuple[int, int] | None  # tokens where the plateau starts and ends


def moving_average(scores: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last `window` values (fewer at the start), like the store's."""
    if window < 1:
        raise ValueError("window must be at least 1")
    out, total = [], 0.0
    for i, score in enumerate(scores):
        total += score
        if i >= window:
            total -= scores[i - window]
        out.append(total / min(i + 1, window))
    return out


def log_positions(tokens: Sequence[int]) -> list[float]:
    positive = [t for t in tokens if t > 0]
    if len(set(positive)) < 2:
        return [i / max(1, len(tokens) - 1) for i in range(len(tokens))]
    low, high = math.log(min(positive)), math.log(max(positive))
    return [0.0 if t <= 0 else (math.log(t) - low) / (high - low) for t in tokens]


def onset(points: Sequence[Point], baseline: float, margin: float, window: int) -> int | None:
    """Tokens at the first checkpoint after which the smoothed score stays above
    baseline + margin; None when it never does."""
    smoothed = moving_average([score for _, score in points], window)
    found = None
    for (tokens, _), score in zip(reversed(points), reversed(smoothed), strict=True):
        if score <= baseline + margin:
            break
        found = tokens
    return found


def _extents(s: Sequence[float], limit: float) -> list[int]:
    """For each i, the last j such that s[i..j] spans at most `limit` (a sliding window's
    minimum and maximum in monotonic queues: linear, where checking every pair is not)."""
    ends, lows, highs, j = [], deque[int](), deque[int](), 0
    for i in range(len(s)):
        while lows and lows[0] < i:
            lows.popleft()
        while highs and highs[0] < i:
            highs.popleft()
        while j < len(s):
            low = min(s[lows[0]], s[j]) if lows else s[j]
            high = max(s[highs[0]], s[j]) if highs else s[j]
            if high - low > limit:
                break
            while lows and s[lows[-1]] >= s[j]:
                lows.pop()
            while highs and s[highs[-1]] <= s[j]:
                highs.pop()
            lows.append(j)
            highs.append(j)
            j += 1
        ends.append(j - 1)
    return ends


def _plateau(
    positions: Sequence[float], s: Sequence[float], rule: ShapeRule, baseline: float | None
) -> tuple[int, int] | None:
    """The longest qualifying plateau, as (first index, last index); the earliest of equals."""
    start, rise = s[0], s[-1] - s[0]
    ends = _extents(s, rule.plateau_tol * rise)
    best: tuple[int, int] | None = None
    for i in range(len(s)):
        if positions[i] > rule.early:
            break
        shortest = i if best is None else i + best[1] - best[0] + 1
        for j in range(ends[i], shortest - 1, -1):  # only a longer one than the best
            level = sum(s[i : j + 1]) / (j - i + 1)
            if (
                positions[j] - positions[i] >= rule.plateau_span
                and 0.15 <= (level - start) / rise <= 0.85
                and (baseline is None or abs(level - baseline) <= rule.near_baseline)
            ):
                best = (i, j)
                break
    return best


def classify(
    points: Sequence[Point], baseline: float | None = None, rule: ShapeRule = DEFAULT_RULE
) -> Shape:
    """The shape of one trajectory (see the module's docstring for the rule)."""
    if len(points) < 3:
        raise ValueError("a trajectory needs at least three checkpoints to have a shape")
    tokens = [t for t, _ in points]
    s = moving_average([score for _, score in points], rule.window)
    rise = s[-1] - s[0]
    first_onset = onset(points, baseline or 0.0, rule.onset_margin, rule.window)
    if rise < rule.min_rise:
        return Shape(FLAT, rise, first_onset, None)
    positions = log_positions(tokens)
    plateau = _plateau(positions, s, rule, baseline)
    if plateau is not None:
        return Shape(TWO_STAGE, rise, first_onset, (tokens[plateau[0]], tokens[plateau[1]]))
    # Where the curve leaves its start band for good (s[-1] = s[0] + rise is above it).
    threshold = s[0] + rule.start_band * rise
    leaves_start = len(s) - 1
    while leaves_start > 0 and s[leaves_start - 1] > threshold:
        leaves_start -= 1
    if positions[leaves_start] >= rule.late:
        return Shape(LATE, rise, first_onset, None)
    return Shape(GRADUAL, rise, first_onset, None)
