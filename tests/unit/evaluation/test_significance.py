"""Paired tests and intervals, checked against scipy's own binomial test and known data."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from kiseki.evaluation.significance import (
    bootstrap_interval,
    mcnemar_exact,
    paired_bootstrap,
    paired_p_value,
)


@pytest.mark.parametrize(("b", "c"), [(10, 0), (7, 2), (3, 9), (15, 15), (1, 0), (40, 21)])
def test_mcnemar_exact_is_the_binomial_test_of_the_discordant_pairs(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue)
    assert mcnemar_exact(b, c) == mcnemar_exact(c, b)


def test_no_discordant_pair_is_no_evidence() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert paired_p_value([1.0, 0.0], [1.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="≥ 0"):
        mcnemar_exact(-1, 2)


def test_right_wrong_values_take_mcnemar_and_others_the_bootstrap() -> None:
    before, after = [1.0] * 12, [0.0] * 10 + [1.0] * 2
    assert paired_p_value(before, after) == pytest.approx(2 * 0.5**10)
    shifted = [v + 0.3 for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.2, 0.1, 0.3, 0.4)]
    assert paired_bootstrap([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.2, 0.1, 0.3, 0.4], shifted) < 0.01
    noisy = [0.5, 0.4, 0.6, 0.5, 0.45, 0.55, 0.5, 0.52, 0.48, 0.5]
    assert paired_bootstrap(noisy, list(reversed(noisy))) > 0.5
    assert paired_bootstrap(noisy, shifted[:10]) == paired_bootstrap(noisy, shifted[:10])


def test_the_interval_covers_a_planted_rate_and_narrows_with_samples() -> None:
    small = [1.0] * 6 + [0.0] * 4
    large = small * 40
    low, high = bootstrap_interval(small)
    wide_low, wide_high = low, high
    low, high = bootstrap_interval(large)
    assert low < 0.6 < high
    assert wide_low < 0.6 < wide_high
    assert high - low < (wide_high - wide_low) / 3
    # The normal approximation's half-width for 400 samples at 0.6: 1.96 * sqrt(.24 / 400).
    assert (high - low) / 2 == pytest.approx(1.96 * (0.24 / 400) ** 0.5, rel=0.15)
