"""Watcher poll cost with 10,000 checkpoint directories already on disk.

Steady state: every directory was published before; a poll lists the root and inspects only
what is new (here nothing, then one new checkpoint). Baseline, measured in the same run: a
naive poll that re-validates every directory. Prints one JSON object (target ≤ 200 ms).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tests")]

from kiseki.watcher.runs import WatchedRun  # noqa: E402
from kiseki.watcher.scanner import RunScanner  # noqa: E402
from support import checkpoints as ck  # noqa: E402

DIRECTORIES, POLLS = 10_000, 15


def _timed_ms(poll: RunScanner, now: float) -> float:
    started = time.perf_counter()
    poll.scan(now)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = random.Random(0)
        for step in range(DIRECTORIES):
            ck.write(root, ck.hf_trainer(step, rng))
        run = WatchedRun("bench", root, format="hf-trainer")
        naive_ms = [_timed_ms(RunScanner(run, quiet_period_s=0.0), 0.0) for _ in range(3)]
        watcher = RunScanner(run, quiet_period_s=0.0)
        watcher.scan(0.0)
        for message in watcher.scan(1.0).complete:
            watcher.mark_published(message)
        steady_ms = [_timed_ms(watcher, 2.0 + i) for i in range(POLLS)]
        ck.write(root, ck.hf_trainer(DIRECTORIES, rng))
        with_new_ms = _timed_ms(watcher, 100.0)
    steady = statistics.median(steady_ms)
    print(
        json.dumps(
            {
                "benchmark": "watcher_poll",
                "existing_checkpoints": DIRECTORIES,
                "steady_poll_ms": round(steady, 2),
                "poll_with_one_new_ms": round(with_new_ms, 2),
                "naive_full_revalidation_ms": round(statistics.median(naive_ms), 1),
                "ratio_naive_over_steady": round(statistics.median(naive_ms) / steady, 1),
                "target_ms": 200,
            }
        )
    )


if __name__ == "__main__":
    main()
