"""Synthetic trajectories of known shape, on the study's log-spaced steps, with noise."""

from __future__ import annotations

import random
from collections.abc import Callable

from kiseki.evaluation.trajectory import log_positions

# The study's log-spaced steps: 0, 1..9, 10..90, 100..900, 1000..9000, 10000.
STEPS = [0] + [k * 10**e for e in range(4) for k in range(1, 10)] + [10_000]
TOKENS_PER_STEP = 4 * 2**20


def curve(
    shape: Callable[[float], float], seed: int, noise: float = 0.02
) -> list[tuple[int, float]]:
    """`shape` of the log-token position in [0, 1], plus uniform noise of ±`noise`."""
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
