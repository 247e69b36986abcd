"""Chaos: a run of checkpoints through the local stack while services are killed at random.

`make test` runs the short form (a dozen checkpoints, a handful of kills, a few minutes);
`make chaos` the long one (KISEKI_CHAOS_FORM=long: at least 200 checkpoints and 56 kills,
every victim 8 times, 4 with each signal, landing in every lifecycle phase). Afterwards every
expected (checkpoint, dataset, sample, mode) row is stored exactly once, every checkpoint is
DONE, and no endpoint is left loaded. The figures are printed, the kills' phases with them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kiseki.core.store import open_store
from support.chaos import (
    DATASET,
    LONG,
    LONG_PHASES,
    MODES,
    RUN,
    SAMPLES,
    SHORT,
    ChaosRun,
    copy_sources,
)
from support.chaos_checks import (
    checkpoint_states,
    expected_keys,
    group_lag,
    loaded_models,
    row_counts,
)
from support.polling import poll_until

FORM = LONG if os.environ.get("KISEKI_CHAOS_FORM") == "long" else SHORT
if os.environ.get("KISEKI_CHAOS_CHECKPOINTS"):  # fewer where the time does not allow 200
    FORM = dataclasses.replace(FORM, checkpoints=int(os.environ["KISEKI_CHAOS_CHECKPOINTS"]))
SINK_TOPICS = ("results", "status", "checkpoints")


def _states(chaos: ChaosRun) -> dict[str, str]:
    assert chaos.stack is not None
    return asyncio.run(checkpoint_states(chaos.stack.control_address, RUN))


def _all_done(chaos: ChaosRun) -> bool:
    states = _states(chaos)
    return len(states) == chaos.written and set(states.values()) == {"DONE"}


def _phases(chaos: ChaosRun) -> list[str]:
    """The lifecycle states of the checkpoints in flight, and STORING while the sink has
    results to commit; UNKNOWN while the orchestrator's control API does not answer."""
    assert chaos.broker is not None
    states = _states(chaos)
    phases = {s for s in states.values() if s not in ("DONE", "FAILED")} if states else {"UNKNOWN"}
    lag = asyncio.run(group_lag(chaos.broker.bootstrap_servers, "kiseki-sink", "kiseki.results"))
    return sorted(phases | ({"STORING"} if lag else set()))


def _sink_caught_up(chaos: ChaosRun) -> bool:
    assert chaos.broker is not None
    chaos.check()
    bootstrap = chaos.broker.bootstrap_servers
    lags = [asyncio.run(group_lag(bootstrap, "kiseki-sink", f"kiseki.{t}")) for t in SINK_TOPICS]
    return sum(lags) == 0


def _reached(condition: Callable[[], bool], timeout_s: float) -> bool:
    try:
        poll_until(condition, timeout_s=timeout_s, interval_s=1.0)
    except AssertionError:
        return False
    return True


def _loaded_endpoints(chaos: ChaosRun) -> list[str]:
    assert chaos.stack is not None
    if chaos.tritonserver_pid() is None:
        return []
    state_file = chaos.stack.settings.workdir / "orchestrator" / "tritonserver.json"
    address = f"127.0.0.1:{json.loads(state_file.read_text())['grpc_port']}"
    return asyncio.run(loaded_models(address))


def test_every_row_once_through_random_kills(
    tmp_path: Path, tiny_checkpoints: dict[int, Path]
) -> None:
    chaos = ChaosRun(FORM, tmp_path, copy_sources(tiny_checkpoints, tmp_path / "sources"))
    stack = chaos.start()
    try:
        chaos.unleash(lambda: _all_done(chaos), lambda: _phases(chaos))
        remaining_s = max(60.0, FORM.timeout_s - (time.monotonic() - chaos.started))

        def settled() -> bool:
            chaos.check()
            return _all_done(chaos)

        finished = _reached(settled, remaining_s) and _reached(lambda: _sink_caught_up(chaos), 120)
        states = _states(chaos)
        loaded = _loaded_endpoints(chaos)
        restarts = stack.supervisor.restarts() if stack.supervisor else {}
    finally:
        chaos.stop()
    strays = chaos.stray_tritonservers()
    phases = Counter(p for k in chaos.kills for p in k.phases)
    duration_s = time.monotonic() - chaos.started
    store = open_store(f"chdb:{stack.settings.workdir / 'store'}")
    try:
        counts = row_counts(store, expected_keys(sorted(states), DATASET, SAMPLES, MODES))
    finally:
        store.close()
    figures = {
        "form": FORM.name,
        "checkpoints": len(states),
        "kills": len(chaos.kills),
        "kills_by_victim": dict(Counter(k.victim for k in chaos.kills)),
        "kills_by_signal": dict(Counter(k.signal for k in chaos.kills)),
        "kills_by_phase": dict(phases),
        **counts,
        "stuck": sum(1 for s in states.values() if s not in ("DONE", "FAILED")),
        "failed": sum(1 for s in states.values() if s == "FAILED"),
        "endpoints_left_loaded": len(loaded),
        "tritonservers_left_running": len(strays),
        "service_restarts": restarts,
        "duration_s": round(duration_s),
    }
    print("\nchaos figures: " + json.dumps(figures))
    print("kills: " + json.dumps([k.__dict__ for k in chaos.kills]))
    assert finished, f"not every checkpoint DONE and stored in time; logs in {tmp_path}"
    assert chaos.kills_done(), chaos.kills
    assert {k.signal for k in chaos.kills} == {"SIGKILL", "SIGTERM"}
    if FORM.name == LONG.name:
        assert set(phases) >= LONG_PHASES, phases
    assert figures["checkpoints"] == chaos.written >= FORM.checkpoints
    assert figures["stuck"] == 0
    assert figures["failed"] == 0
    assert counts["rows_final"] == counts["rows_expected"] == chaos.written * SAMPLES * 2
    assert counts["rows_missing"] == counts["rows_duplicated"] == counts["rows_unexpected"] == 0
    assert counts["job_summaries"] == chaos.written * 4
    assert counts["job_summaries_failed"] == 0
    assert counts.get("stored_state_DONE") == chaos.written
    assert loaded == []
    assert strays == []
