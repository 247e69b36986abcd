"""The soak run's measurements: what each process and the pipeline hold, sampled against the
number of checkpoints done, and whether any of it grows with that number.

Growth is the least-squares slope of a metric over checkpoints done, after a warm-up (the
first samples carry imports, caches and the first merges); a metric fails when its slope,
projected over `horizon` checkpoints, exceeds its allowance. A flat metric's slope wanders
around 0 by its noise; a leak of a few KiB or one fd per checkpoint stands out over hundreds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Allowed growth over `horizon` checkpoints, per metric kind: RSS in MiB, fds, records, parts.
# A service that held 64 MiB more after 1,000 checkpoints than after its warm-up would be
# out of memory within a pretraining run's 10,000; an fd or a part per 100 checkpoints, the
# same; lag that grows means the consumers fall behind the checkpoints.
ALLOWANCE = {"rss_mib": 64.0, "fds": 10.0, "lag": 50.0, "parts": 50.0}
HORIZON = 1000
WARM_UP = 0.2  # the share of the run's samples left out of the slope


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0  # a zombie has none


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs; 0 when xs do not vary."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass
class Series:
    """One metric of one process (or of the pipeline), sampled against checkpoints done."""

    name: str
    kind: str  # a key of ALLOWANCE
    done: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, done: int, value: float) -> None:
        self.done.append(float(done))
        self.values.append(float(value))

    def slope(self) -> float:
        start = int(len(self.done) * WARM_UP)
        xs, ys = self.done[start:], self.values[start:]
        return slope(xs, ys) if len(xs) >= 2 else 0.0

    def verdict(self) -> dict[str, object]:
        per_checkpoint = self.slope()
        projected = per_checkpoint * HORIZON
        return {
            "metric": self.name,
            "samples": len(self.values),
            "first": self.values[0] if self.values else None,
            "last": self.values[-1] if self.values else None,
            "max": max(self.values, default=None),
            "slope_per_checkpoint": round(per_checkpoint, 6),
            f"growth_per_{HORIZON}": round(projected, 3),
            "allowed": ALLOWANCE[self.kind],
            "grows": projected > ALLOWANCE[self.kind],
        }


@dataclass
class Samples:
    series: dict[str, Series] = field(default_factory=dict)

    def add(self, name: str, kind: str, done: int, value: float) -> None:
        self.series.setdefault(name, Series(name, kind)).add(done, value)

    def process(self, name: str, pid: int, done: int) -> None:
        try:
            rss, fds = rss_mib(pid), open_fds(pid)
        except OSError:  # between a death and a restart: the run fails on the restart
            return
        self.add(f"{name}.rss_mib", "rss_mib", done, rss)
        self.add(f"{name}.fds", "fds", done, fds)

    def verdicts(self) -> list[dict[str, object]]:
        return [series.verdict() for series in self.series.values()]

    def growing(self) -> list[str]:
        return [str(v["metric"]) for v in self.verdicts() if v["grows"]]
