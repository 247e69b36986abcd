"""The watcher's loop: one task per run scans its root and publishes what completed.

Publishing a checkpoint sends a DISCOVERED `CheckpointStatus` on kiseki.status (key: the
checkpoint id), then the `CheckpointDiscovered` on kiseki.checkpoints (key: the run id). A
checkpoint stuck past the incomplete timeout gets a FAILED status with the reason.

Restart semantics: a restart publishes nothing new. At start the watcher replays the whole
kiseki.checkpoints topic and skips, per run, every directory name and step published there,
so those are never inspected nor sent again. This matters beyond tidiness: a fresh DISCOVERED
status for a checkpoint already evaluated would put it back into the orchestrator's queue.
The one window left is a crash between the two sends: the status went out, the checkpoint did
not, so the restart sends both again under the same id (the orchestrator ignores statuses of
checkpoints it has not been told about; the store keeps one row per id). A checkpoint still
stuck is reported FAILED again, a timeout after the restart, under its same id. The topic
must keep its records (no time retention; not compacted, as its key is the run): records it
dropped would be published again under their same ids, and evaluated again.

Isolation: each run scans in its own task and thread, so a slow or broken filesystem holds
up only its own run; a scan error or a broker error is logged and retried at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka.errors import KafkaError

from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.service import ServiceContext
from kiseki.core.startup import reach_broker
from kiseki.core.status import checkpoint_status
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.config import WatcherConfig
from kiseki.watcher.runs import WatchedRun
from kiseki.watcher.scanner import RunScanner, ScanResult

log = logging.getLogger(__name__)


async def read_published(kafka: KafkaConfig) -> dict[str, dict[str, int]]:
    """Per run: directory name → step of every checkpoint in the checkpoints topic."""
    tail = TopicTail(kafka, {kafka.topics.checkpoints: ev.CheckpointDiscovered})
    await tail.start()
    try:
        published: dict[str, dict[str, int]] = {}
        for delivery in await tail.read_to_end():
            message = delivery.message
            published.setdefault(message.run_id, {})[Path(message.uri).name] = message.step
        return published
    finally:
        await tail.stop()


class Publisher:
    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self.producer = ProtoProducer(kafka, "kiseki-watcher")

    async def status(
        self, run_id: str, checkpoint: str, step: int, state: int, reason: str
    ) -> None:
        status = checkpoint_status(checkpoint, run_id, step, state, source="watcher", reason=reason)
        await self.producer.send(self.kafka.topics.status, status, key=checkpoint)

    async def publish(self, scanner: RunScanner, result: ScanResult) -> None:
        run_id = scanner.run.run_id
        for message in result.complete:
            discovered = ev.CHECKPOINT_STATE_DISCOVERED
            await self.status(run_id, message.checkpoint_id, message.step, discovered, "")
            await self.producer.send(self.kafka.topics.checkpoints, message, key=run_id)
            scanner.mark_published(message)
            log.info(
                "published",
                extra={"checkpoint_id": message.checkpoint_id, "step": message.step},
            )
        for stuck in result.stuck:
            log.warning(
                "checkpoint not complete in time",
                extra={"checkpoint_id": stuck.checkpoint_id, "reason": stuck.reason},
            )
            failed = ev.CHECKPOINT_STATE_FAILED
            await self.status(run_id, stuck.checkpoint_id, stuck.step, failed, stuck.reason)
            scanner.mark_reported(stuck)


async def follow_run(
    context: ServiceContext, scanner: RunScanner, publisher: Publisher, poll_interval_s: float
) -> None:
    """Scan and publish one run until the service stops; never raises for bad input."""
    run_id = scanner.run.run_id
    # A thread of its own: a run whose filesystem hangs holds no thread another run needs.
    scan_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"scan-{run_id}")
    loop = asyncio.get_running_loop()
    try:
        while not context.stopping.is_set():
            try:
                result = await loop.run_in_executor(scan_thread, scanner.scan, time.monotonic())
                await publisher.publish(scanner, result)
            except KafkaError as error:  # what was not sent is found again at the next scan
                log.warning("publishing failed", extra={"run_id": run_id, "error": str(error)})
            except Exception:
                log.exception("scan failed", extra={"run_id": run_id})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(context.stopping.wait(), poll_interval_s)
    finally:
        scan_thread.shutdown(wait=False, cancel_futures=True)


async def run_watcher(
    context: ServiceContext, kafka: KafkaConfig, config: WatcherConfig, runs: list[WatchedRun]
) -> None:
    await reach_broker(context, kafka)
    published = await read_published(kafka)
    publisher = Publisher(kafka)
    await publisher.producer.start()
    context.health.set_ready(True)
    log.info("watching", extra={"runs": [run.run_id for run in runs]})
    try:
        async with asyncio.TaskGroup() as group:
            for run in runs:
                scanner = RunScanner(
                    run,
                    config.quiet_period_s,
                    config.incomplete_timeout_s,
                    published.get(run.run_id, {}),
                )
                group.create_task(follow_run(context, scanner, publisher, config.poll_interval_s))
    finally:
        await publisher.producer.stop()
