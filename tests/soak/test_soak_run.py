"""Soak: many checkpoints through the local stack without kills, and nothing grows with them.

The stack is the chaos run's (support.chaos: Apache Kafka, two runners, two endpoints, one tiny
dataset, cheap hard-linked checkpoints), fed at its own pace: a new checkpoint whenever fewer
than IN_FLIGHT are unfinished, so the consumers never fall behind a pace set from outside.
Every few seconds each service's and tritonserver's RSS and open fds, the consumer groups' lag
and the store's active part count are sampled against the checkpoints done; afterwards every
row is stored once, no service restarted, and no metric's slope (support.soak) projects past
its allowance. The slopes are printed as one JSON line.

`make soak` runs the long form (KISEKI_SOAK_FORM=long: 1,000 checkpoints, an hour or more on
two cores). KISEKI_SOAK_FORM=short (a dozen checkpoints, 4-6 minutes on a busy 2-core machine)
checks the sampling and the verdicts but asserts no slope: a dozen points after a warm-up
measure noise. Neither runs in `make test` (conftest.py leaves this file out unless
KISEKI_SOAK_FORM is set); test_soak_slopes.py, which checks the slope code, does.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from kiseki.core.store import open_store
from kiseki.core.store.query_api import RemoteStore
from kiseki.local.brokers import start_apache_kafka
from kiseki.stack.stack import LocalStack
from support.chaos import (
    DATASET,
    MODES,
    RUN,
    SAMPLES,
    SERVICES,
    copy_sources,
    place_checkpoint,
    stack_settings,
    tritonserver_pid,
)
from support.chaos_checks import checkpoint_states, expected_keys, group_lag, row_counts
from support.polling import poll_until
from support.soak import Samples

LONG = os.environ.get("KISEKI_SOAK_FORM") == "long"
CHECKPOINTS = int(os.environ.get("KISEKI_SOAK_CHECKPOINTS", "1000" if LONG else "12"))
IN_FLIGHT = 4  # unfinished checkpoints at most: two endpoints busy, two waiting
SAMPLE_EVERY_S = 10.0 if LONG else 2.0
LAGS = (
    ("kiseki-sink", "kiseki.results"),
    ("kiseki-sink", "kiseki.status"),
    ("kiseki-sink", "kiseki.checkpoints"),
    ("kiseki-runners", "kiseki.jobs"),
)
PARTS = "SELECT count() AS parts FROM system.parts WHERE active AND database = currentDatabase()"


def _states(stack: LocalStack) -> dict[str, str]:
    return asyncio.run(checkpoint_states(stack.control_address, RUN))


def _sample(
    samples: Samples, stack: LocalStack, bootstrap: str, remote: RemoteStore, done: int
) -> None:
    assert stack.supervisor is not None
    for name in SERVICES:
        samples.process(name, stack.supervisor.process(name).pid, done)
    triton = tritonserver_pid(stack)
    if triton is not None:
        samples.process("tritonserver", triton, done)
    for group, topic in LAGS:
        samples.add(
            f"lag.{group}.{topic}", "lag", done, asyncio.run(group_lag(bootstrap, group, topic))
        )
    parts = remote.query(PARTS)
    samples.add("store.parts", "parts", done, int(parts[0]["parts"]))


def test_a_long_run_holds_steady(tmp_path: Path, tiny_checkpoints: dict[int, Path]) -> None:
    sources = copy_sources(tiny_checkpoints, tmp_path / "sources")
    run_root = tmp_path / "run"
    run_root.mkdir()
    broker = start_apache_kafka(tmp_path / "kafka")
    stack = LocalStack(stack_settings(tmp_path, run_root, broker.bootstrap_servers))
    samples, written, started = Samples(), 0, time.monotonic()
    try:
        stack.start()
        stack.wait_ready()
        # One connection for the run: a channel per sample would leave the sink an fd each.
        remote = RemoteStore(stack.query_address)
        next_sample = time.monotonic()
        done = 0
        while done < CHECKPOINTS:
            assert stack.check() == [], "a service exited during the soak"
            states = _states(stack)
            done = sum(1 for state in states.values() if state in ("DONE", "FAILED"))
            if written < CHECKPOINTS and written - done < IN_FLIGHT:
                source = sources[written % len(sources)]
                place_checkpoint(source, tmp_path / "staging", run_root, written)
                written += 1
            if time.monotonic() >= next_sample:
                _sample(samples, stack, broker.bootstrap_servers, remote, done)
                next_sample = time.monotonic() + SAMPLE_EVERY_S
            time.sleep(0.2)  # the feeding loop's pace
        _sample(samples, stack, broker.bootstrap_servers, remote, done)

        def caught_up() -> bool:
            return all(asyncio.run(group_lag(broker.bootstrap_servers, g, t)) == 0 for g, t in LAGS)

        poll_until(caught_up, timeout_s=120, interval_s=1.0)
        states = _states(stack)
        restarts = stack.supervisor.restarts() if stack.supervisor else {}
        remote.close()
    finally:
        stack.stop()
        broker.stop()
    store = open_store(f"chdb:{stack.settings.workdir / 'store'}")
    try:
        counts = row_counts(store, expected_keys(sorted(states), DATASET, SAMPLES, MODES))
    finally:
        store.close()
    verdicts = samples.verdicts()
    figures = {
        "form": "long" if LONG else "short",
        "checkpoints": len(states),
        "duration_s": round(time.monotonic() - started),
        "rows_final": counts["rows_final"],
        "growing": samples.growing(),
        "slopes": verdicts,
    }
    print("\nsoak figures: " + json.dumps(figures))
    assert len(states) == CHECKPOINTS
    assert set(states.values()) == {"DONE"}
    assert counts["rows_final"] == counts["rows_expected"] == CHECKPOINTS * SAMPLES * len(MODES)
    assert counts["rows_missing"] == counts["rows_duplicated"] == 0
    assert restarts == dict.fromkeys(SERVICES, 0)
    expected = {f"{s}.{m}" for s in (*SERVICES, "tritonserver") for m in ("rss_mib", "fds")}
    expected |= {f"lag.{g}.{t}" for g, t in LAGS} | {"store.parts"}
    assert set(samples.series) == expected
    assert all(len(series.values) >= 3 for series in samples.series.values())
    if LONG:
        assert samples.growing() == [], verdicts
