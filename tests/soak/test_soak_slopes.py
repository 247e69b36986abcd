"""The soak's verdicts (support.soak) on series whose answer is known: a flat noisy one, a
leak of one fd per 50 checkpoints, and a steep warm-up followed by a plateau."""

from __future__ import annotations

from support.soak import HORIZON, Series, slope


def test_the_slope_tells_a_leak_from_noise() -> None:
    assert slope([0, 1, 2, 3], [5, 7, 9, 11]) == 2.0
    assert slope([3, 3], [1, 9]) == 0.0
    flat, leak = Series("flat", "fds"), Series("leak", "fds")
    for done in range(0, 500, 10):
        flat.add(done, 40 + (done // 10) % 3)  # noise, no trend
        leak.add(done, 40 + done / 50)  # one fd per 50 checkpoints: 20 per 1,000
    warm = Series("warm", "rss_mib")
    for done in range(100):  # a steep start (imports, caches), flat afterwards
        warm.add(done, 100 + (400 if done >= 20 else done * 20))
    verdicts = {s.name: s.verdict() for s in (flat, leak, warm)}
    assert not verdicts["flat"]["grows"]
    assert verdicts["leak"]["grows"]
    assert verdicts["leak"][f"growth_per_{HORIZON}"] == 20.0
    assert not verdicts["warm"]["grows"]  # the warm-up is left out
