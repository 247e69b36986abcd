"""The local supervisor restarts a crashed service and stops every service on request."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kiseki.stack.supervisor import ServiceSpec, Supervisor
from support.polling import poll_until

SLEEPER = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "time.sleep(600)"
)


def test_crashed_service_is_restarted_and_all_stop(tmp_path: Path) -> None:
    specs = [ServiceSpec(name, [sys.executable, "-c", SLEEPER]) for name in ("sink", "runner-0")]
    supervisor = Supervisor(specs, tmp_path, max_delay_s=0.2)
    try:
        first_pid = supervisor.process("sink").pid
        os.kill(first_pid, signal.SIGKILL)
        poll_until(lambda: supervisor.check() == ["sink"] or supervisor.restarts()["sink"], 10)
        assert supervisor.restarts() == {"sink": 1, "runner-0": 0}
        assert supervisor.process("sink").pid != first_pid
        assert supervisor.process("sink").alive()
    finally:
        supervisor.stop(grace_s=5)
    assert not supervisor.process("sink").alive()
    assert not supervisor.process("runner-0").alive()


def _delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    exits = [r for r in caplog.records if r.getMessage() == "service exited; restarting"]
    return [float(r.__dict__["in_s"]) for r in exits]


def test_crash_loop_backs_off_and_a_long_run_resets_the_back_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kiseki.stack.supervisor")
    crasher = ServiceSpec("crasher", [sys.executable, "-c", "raise SystemExit(1)"])
    supervisor = Supervisor([crasher], tmp_path, max_delay_s=1.0)
    try:
        poll_until(lambda: supervisor.check() and supervisor.restarts()["crasher"] >= 3, 20)
    finally:
        supervisor.stop(grace_s=5)
    assert _delays(caplog)[:3] == [0.5, 1.0, 1.0]

    caplog.clear()
    sleeper = ServiceSpec("sleeper", [sys.executable, "-c", SLEEPER])
    supervisor = Supervisor([sleeper], tmp_path, max_delay_s=1.0)
    try:
        for restarts in (1, 2):
            started = time.monotonic()
            # Killed after it ran longer than the longest back-off: not a crash loop.
            poll_until(lambda: time.monotonic() - started > 1.2, 5)  # noqa: B023
            os.kill(supervisor.process("sleeper").pid, signal.SIGKILL)
            poll_until(lambda: supervisor.check() == ["sleeper"], 10)
            assert supervisor.restarts()["sleeper"] == restarts
    finally:
        supervisor.stop(grace_s=5)
    assert _delays(caplog) == [0.5, 0.5]
