"""Reading a trajectory between and beyond its checkpoints.

- `at_tokens`: a score at a token count between two checkpoints, interpolated linearly on the
  log-token axis (runs of different sizes or cadences compared at equal tokens);
- `fit_sigmoid` / `Sigmoid.predict`: a monotone rising sigmoid in log tokens,
  score = low + (high - low) / (1 + exp(-slope (log10 tokens - middle))), fitted by least
  squares, and a prediction at a token count with an interval from the fit's residual spread
  and parameter covariance (the delta method).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import curve_fit

Point = tuple[int, float]  # (tokens seen, score)


def at_tokens(points: Sequence[Point], tokens: int) -> float | None:
    """The score at `tokens`, or None outside the checkpoints' range (no extrapolation)."""
    usable = sorted((t, s) for t, s in points if t > 0)
    if tokens <= 0 or not usable or not usable[0][0] <= tokens <= usable[-1][0]:
        return None
    x = math.log10(tokens)
    for (t0, s0), (t1, s1) in itertools.pairwise(usable):
        if t0 <= tokens <= t1:
            if t1 == t0:
                return s1
            share = (x - math.log10(t0)) / (math.log10(t1) - math.log10(t0))
            return s0 + share * (s1 - s0)
    return usable[-1][1]


Array = npt.NDArray[np.float64]


def _curve(x: Array, low: float, high: float, slope: float, middle: float) -> Array:
    curve: Array = low + (high - low) / (1.0 + np.exp(-slope * (x - middle)))
    return curve


@dataclass(frozen=True)
class Sigmoid:
    low: float
    high: float
    slope: float
    middle: float  # log10 tokens of the half-way point
    covariance: Array
    residual_sd: float

    def predict(self, tokens: int, z: float = 1.96) -> tuple[float, float, float]:
        """The fitted score at `tokens` and a ~95 % interval (fit and scatter together)."""
        x = math.log10(tokens)
        params = np.array([self.low, self.high, self.slope, self.middle])
        value = float(_curve(np.array([x]), *params)[0])
        steps = np.maximum(np.abs(params) * 1e-6, 1e-8)
        gradient = np.array(
            [
                (_curve(np.array([x]), *(params + np.eye(4)[i] * steps[i]))[0] - value) / steps[i]
                for i in range(4)
            ]
        )
        spread = math.sqrt(
            max(0.0, float(gradient @ self.covariance @ gradient)) + self.residual_sd**2
        )
        return value, value - z * spread, value + z * spread


def fit_sigmoid(points: Sequence[Point]) -> Sigmoid:
    """Least-squares sigmoid through (tokens > 0, score) points; ValueError with fewer than 5."""
    usable = [(t, s) for t, s in points if t > 0]
    if len(usable) < 5:
        raise ValueError(f"a sigmoid needs at least 5 checkpoints with tokens, got {len(usable)}")
    x = np.log10([t for t, _ in usable])
    y = np.array([s for _, s in usable])
    start = [float(y.min()), float(y.max()), 2.0, float(np.median(x))]
    bounds = ([-1.0, -1.0, 0.0, float(x.min()) - 3], [2.0, 2.0, 50.0, float(x.max()) + 3])
    params, covariance = curve_fit(_curve, x, y, p0=start, bounds=bounds, maxfev=20_000)
    residuals = y - _curve(x, *params)
    dof = max(1, len(y) - 4)
    residual_sd = math.sqrt(float(residuals @ residuals) / dof)
    low, high, slope, middle = (float(p) for p in params)
    return Sigmoid(low, high, slope, middle, np.nan_to_num(covariance), residual_sd)
