"""core.startup: a dependency down at start is waited out (one warning, not ready, back-off),
a configuration error is not, and a stop while waiting ends the service cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest
from prometheus_client import REGISTRY

from kiseki.core.health import Health
from kiseki.core.service import ServiceConfig, ServiceContext, _run
from kiseki.core.startup import Backoff, Dependency, wait_for

FAST = Backoff(first_s=0.01, max_s=0.02)
DOWN = Dependency("test-down", "the thing at :1", "check KISEKI_THING", (ConnectionError,))


def _retries() -> float:
    value = REGISTRY.get_sample_value(
        "kiseki_dependency_retries_total", {"dependency": "test-down"}
    )
    return value or 0.0


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"refused #{self.calls}")
        return "connected"


async def test_retries_until_it_answers_warning_once(caplog: pytest.LogCaptureFixture) -> None:
    context = ServiceContext("t", Health())
    attempt = Flaky(failures=4)
    before = _retries()
    reasons: list[str] = []

    async def watch() -> None:
        while True:
            reasons.append(context.health.snapshot()[2])
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    with caplog.at_level(logging.INFO, logger="kiseki.core.startup"):
        assert await wait_for(context, DOWN, attempt, FAST) == "connected"
    watcher.cancel()
    assert attempt.calls == 5
    assert _retries() - before == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "cannot reach the thing at :1 (ConnectionError: refused #1); check KISEKI_THING."
        " Retrying with back-off up to 0 s; not ready until then"
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "the thing at :1 answered"
    ]
    assert any(
        r.startswith("waiting for the thing at :1: ConnectionError: refused") for r in reasons
    )


async def test_an_error_that_is_not_an_outage_is_raised_at_once() -> None:
    context = ServiceContext("t", Health())

    async def refused() -> None:
        raise PermissionError("wrong password")

    with pytest.raises(PermissionError, match="wrong password"):
        await wait_for(context, DOWN, refused, FAST)


async def test_a_sigterm_while_waiting_ends_the_service_cleanly() -> None:
    waited = asyncio.Event()

    async def main(context: ServiceContext) -> None:
        async def never() -> None:
            waited.set()
            raise ConnectionError("refused")

        await wait_for(context, DOWN, never, Backoff(first_s=60, max_s=60))

    service = asyncio.create_task(_run("t", ServiceConfig(stop_grace_s=5), main))
    await asyncio.wait_for(waited.wait(), 10)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(service, 10)  # returns: no StoppedWhileWaiting, no traceback
