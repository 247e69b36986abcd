"""Is a change between two checkpoints real? Paired tests on per-sample values, and how noisy a
dataset's score is.

- `mcnemar_exact(b, c)`: two checkpoints scored on the same samples, b samples right before
  and wrong after, c the reverse; the exact two-sided McNemar p-value (a binomial test of b
  among the b + c discordant samples at 1/2);
- `paired_bootstrap(before, after)`: for continuous per-sample values (char_f1, BLEU), the
  two-sided bootstrap p-value that the mean paired difference is zero;
- `bootstrap_interval(values)`: a percentile interval of the mean of per-sample values.
Resampling uses a fixed seed, so a report reads the same every time it is made.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ROUNDS = 2000
SEED = 20


def mcnemar_exact(b: int, c: int) -> float:
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be ≥ 0, got {b} and {c}")
    n = b + c
    if n == 0:
        return 1.0
    tail: float = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def paired_bootstrap(
    before: Sequence[float], after: Sequence[float], rounds: int = ROUNDS, seed: int = SEED
) -> float:
    if len(before) != len(after):
        raise ValueError(f"{len(before)} values before, {len(after)} after: not paired")
    differences = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if differences.size == 0 or not differences.any():
        return 1.0
    picks = np.random.default_rng(seed).integers(0, differences.size, (rounds, differences.size))
    # Centred on zero: how often a mean as far from zero as the observed one arises by chance.
    observed = abs(float(differences.mean()))
    means = (differences - differences.mean())[picks].mean(axis=1)
    extreme = int((np.abs(means) >= observed).sum())
    return (extreme + 1) / (rounds + 1)


def paired_p_value(before: Sequence[float], after: Sequence[float]) -> float:
    """McNemar's exact test for right/wrong values, the paired bootstrap otherwise."""
    if is_binary(before) and is_binary(after):
        b = sum(1 for x, y in zip(before, after, strict=True) if x == 1.0 and y == 0.0)
        c = sum(1 for x, y in zip(before, after, strict=True) if x == 0.0 and y == 1.0)
        return mcnemar_exact(b, c)
    return paired_bootstrap(before, after)


def bootstrap_interval(
    values: Sequence[float], level: float = 0.95, rounds: int = ROUNDS, seed: int = SEED
) -> tuple[float, float]:
    if not values:
        raise ValueError("an interval needs at least one value")
    data = np.asarray(values, dtype=float)
    picks = np.random.default_rng(seed).integers(0, data.size, (rounds, data.size))
    means = data[picks].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
