"""Waiting out a dependency that is down when a service starts: one line, not ready, back-off.

A broker or store that cannot be reached at start is an outage, not a bad configuration: a
service that exited on it would go into the kubelet's crash back-off (or the local
supervisor's) and print a traceback per restart. Instead it stays alive, says once what it
cannot reach and which setting names it, answers `/readyz` with 503 and the reason, retries
with exponential back-off, and says when the dependency answered. A SIGTERM while waiting
ends the service cleanly (`run_service` treats `StoppedWhileWaiting` as a normal exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aiokafka.errors import KafkaError

from kiseki.core.kafka import ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.metrics import DEPENDENCY_RETRIES
from kiseki.core.service import ServiceContext, StoppedWhileWaiting
from kiseki.core.store import Store, StoreConfig, StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Dependency:
    kind: str  # the metric's label: kafka, store
    where: str  # what the log line names: "Kafka at host:port"
    hint: str  # what to check, naming the settings
    transient: tuple[type[BaseException], ...]  # the errors that mean "not reachable now"
    # Client loggers that print each failed connection themselves: silenced while an attempt
    # runs, so a long outage stays one line.
    noisy_loggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0  # seconds: a broker starting beside the service is up in a few
    max_s: float = 30.0  # seconds: a long outage is retried twice a minute, not hammered


async def wait_for(
    context: ServiceContext,
    dependency: Dependency,
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff = Backoff(),
) -> T:
    """`attempt()`'s result once it succeeds; until then not ready, retried with back-off."""
    delay, failures, started = backoff.first_s, 0, time.monotonic()
    while True:
        try:
            with _quiet(dependency.noisy_loggers):
                result = await attempt()
        except dependency.transient as error:
            failures += 1
            DEPENDENCY_RETRIES.labels(dependency=dependency.kind).inc()
            reason = f"waiting for {dependency.where}: {_describe(error)}"
            context.health.set_ready(False, reason)
            if failures == 1:
                log.warning(
                    f"cannot reach {dependency.where} ({_describe(error)}); "
                    f"{dependency.hint}. Retrying with back-off up to {backoff.max_s:.0f} s; "
                    "not ready until then"
                )
            else:
                log.debug("still waiting", extra={"dependency": dependency.kind, "in_s": delay})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(context.stopping.wait(), delay)
            if context.stopping.is_set():
                raise StoppedWhileWaiting(dependency.where) from None
            delay = min(delay * 2, backoff.max_s)
            continue
        if failures:
            log.info(
                f"{dependency.where} answered",
                extra={"after_s": round(time.monotonic() - started, 1), "attempts": failures + 1},
            )
        return result


def _describe(error: BaseException) -> str:
    """The error's class and text, once (aiokafka's text starts with its class already)."""
    name, text = type(error).__name__, str(error)
    return text if text.startswith(name) else f"{name}: {text}"


@contextlib.contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """At KISEKI_LOG_LEVEL=DEBUG nothing is silenced: whoever asks for it wants every try."""
    verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
    loggers = [] if verbose else [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def kafka_dependency(kafka: KafkaConfig) -> Dependency:
    return Dependency(
        "kafka",
        f"Kafka at {kafka.bootstrap_servers}",
        "check KISEKI_KAFKA_BOOTSTRAP (and the KISEKI_KAFKA_SECURITY_PROTOCOL / SASL settings)",
        (KafkaError, OSError),
        ("aiokafka",),
    )


async def reach_broker(
    context: ServiceContext, kafka: KafkaConfig, partitions: dict[str, int] | None = None
) -> None:
    """Wait until the broker answers, creating the topics (`partitions`, default the
    topics' own counts) that do not exist yet."""
    wanted = partitions if partitions is not None else kafka.topics.partitions()
    await wait_for(context, kafka_dependency(kafka), lambda: ensure_topics(kafka, wanted))


async def open_store_when_reachable(context: ServiceContext, config: StoreConfig) -> Store:
    """The store, once its server answers; a wrong password or a missing database is not an
    outage and still fails at once, with its own message."""
    dependency = Dependency(
        "store",
        f"the store at {config.url}",
        "check KISEKI_STORE_URL",
        (StoreUnavailable,),
        ("urllib3", "clickhouse_connect"),
    )
    return await wait_for(context, dependency, lambda: asyncio.to_thread(config.open))
