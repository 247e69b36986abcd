"""The life of a service process: logging, health endpoint, SIGTERM → graceful stop.

A service's entry point builds its config and calls `run_service` with its main coroutine,
which receives a `ServiceContext` and must return soon after `context.stopping` is set. If it
does not return within `stop_grace_s` it is cancelled, so the process always exits before
the pod's termination grace period (30 s by default in Kubernetes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from kiseki.core.config import setting
from kiseki.core.health import Health, HealthServer
from kiseki.core.logs import configure_logging

log = logging.getLogger(__name__)
MainCoroutine = Callable[["ServiceContext"], Coroutine[Any, Any, None]]


class StoppedWhileWaiting(Exception):
    """Stop was requested while the service waited for a dependency (core.startup)."""


@dataclass(frozen=True)
class ServiceConfig:
    log_level: str = setting("KISEKI_LOG_LEVEL", "INFO", doc="root log level")
    health_host: str = setting(
        "KISEKI_HEALTH_HOST", "127.0.0.1", doc="bind address of /healthz /readyz /metrics"
    )
    health_port: int = setting(
        "KISEKI_HEALTH_PORT", 0, unit="TCP port", doc="0 picks a free port (local mode)"
    )
    stop_grace_s: float = setting(
        "KISEKI_STOP_GRACE_S",
        20.0,
        unit="seconds",
        doc="time to finish in-flight work after SIGTERM; below Kubernetes' default 30 s",
    )


@dataclass
class ServiceContext:
    name: str
    health: Health
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


async def _run(name: str, config: ServiceConfig, main: MainCoroutine) -> None:
    context = ServiceContext(name=name, health=Health())
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, context.stopping.set)
    server = HealthServer(context.health, config.health_host, config.health_port)
    server.start()
    log.info("service starting", extra={"health_port": server.port})
    task = asyncio.create_task(main(context))
    stop_wait = asyncio.create_task(context.stopping.wait())
    try:
        await asyncio.wait({task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            context.health.set_ready(False, "stopping")
            log.info(
                "stop requested; finishing in-flight work", extra={"grace_s": config.stop_grace_s}
            )
            await asyncio.wait({task}, timeout=config.stop_grace_s)
            if task.cancel():
                log.warning("in-flight work did not finish within the grace period; cancelled")
        with contextlib.suppress(asyncio.CancelledError, StoppedWhileWaiting):
            await task
    finally:
        stop_wait.cancel()
        server.stop()
        log.info("service stopped")


def run_service(name: str, config: ServiceConfig, main: MainCoroutine) -> None:
    configure_logging(name, config.log_level)
    asyncio.run(_run(name, config, main))
