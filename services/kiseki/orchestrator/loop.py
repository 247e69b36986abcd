"""The orchestrator's loop: follow the log, start what the policies select within the
budget, finish what the runners have reported, and say every change on kiseki.status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Coroutine
from typing import Any

from kiseki.core.kafka import Delivery, ProtoProducer, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import LATEST, TopicTail
from kiseki.core.service import ServiceContext
from kiseki.core.startup import reach_broker
from kiseki.core.status import checkpoint_status
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.conversion import (
    CheckpointConverter,
    ConversionFailed,
    ProcessConverter,
    needs_conversion,
)
from kiseki.orchestrator.deployer import Deployer, DeployError
from kiseki.orchestrator.planner import plan_jobs
from kiseki.orchestrator.policy import PolicyBook
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.orchestrator.scheduling import Scheduler
from kiseki.orchestrator.state import CheckpointView, Fleet
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
# States a crashed step leaves behind that the scheduler starts again.
_RETRIED = (
    ev.CHECKPOINT_STATE_CONVERTING,
    ev.CHECKPOINT_STATE_DEPLOYING,
    ev.CHECKPOINT_STATE_READY,
)


class Orchestrator:
    def __init__(
        self,
        kafka: KafkaConfig,
        config: OrchestratorConfig,
        policies: PolicyBook,
        deployer: Deployer,
        roots: CheckpointRoots | None = None,
        converter: CheckpointConverter | None = None,
    ) -> None:
        self.kafka, self.config, self.policies, self.deployer = kafka, config, policies, deployer
        self.roots = roots or CheckpointRoots()
        self.topics = kafka.topics
        self.fleet = Fleet()
        self.scheduler = Scheduler(policies)
        self.listeners: set[asyncio.Queue[ev.CheckpointStatus]] = set()
        self._producer = ProtoProducer(kafka, "kiseki-orchestrator")
        self._busy: dict[str, asyncio.Task[None]] = {}
        self.converter = converter or ProcessConverter(
            config.conversion_dir,
            config.conversion_python,
            config.conversion_slots,
            config.conversion_timeout_s,
        )

    async def _tail(self) -> TopicTail[Any]:
        topics = self.topics
        await ensure_topics(self.kafka, topics.partitions(self.config.job_partitions))
        # Replayed in this order: a status or a summary applies to a checkpoint already known.
        tail: TopicTail[Any] = TopicTail(
            self.kafka,
            {
                topics.checkpoints: ev.CheckpointDiscovered,
                topics.status: ev.CheckpointStatus,
                topics.results: ev.JobResults,
            },
            wanted=self._wanted,
        )
        await tail.start()
        return tail

    def _wanted(self, topic: str, key: bytes | None) -> bool:
        """Results matter only while their checkpoint is being evaluated: the results of
        every other checkpoint (all samples ever scored) are passed over undecoded."""
        if topic != self.topics.results:
            return True
        return key is not None and self.fleet.evaluating(key.decode(errors="replace"))

    def _replay_since(self, topic: str) -> int | None:
        """Results sent before the earliest evaluation in flight was asked for count for
        none (see Fleet.apply_summary), so the replay starts there."""
        if topic != self.topics.results:
            return None
        first = self.fleet.first_request_ms()
        return LATEST if first is None else first

    def _apply(self, delivery: Delivery[Any], replayed: bool = False) -> None:
        message = delivery.message
        if isinstance(message, ev.CheckpointDiscovered):
            self.fleet.add_checkpoint(message)
        elif isinstance(message, ev.CheckpointStatus):
            self.fleet.apply_status(message)
        elif isinstance(message, ev.JobResults):
            # Replayed after every status: the sender's time tells a summary from before
            # a backfill from one of the backfill itself.
            sent_ns = delivery.timestamp_ms * 1_000_000 if replayed else None
            self.fleet.apply_summary(message.summary, sent_ns)

    async def publish_status(
        self,
        view: CheckpointView,
        state: int,
        reason: str = "",
        request: ev.EvaluationRequest | None = None,
    ) -> None:
        checkpoint = view.checkpoint
        status = checkpoint_status(
            checkpoint.checkpoint_id,
            checkpoint.run_id,
            checkpoint.step,
            state,
            source="orchestrator",
            reason=reason,
            request=request,
        )
        await self._producer.send(self.topics.status, status, key=status.checkpoint_id)
        self.fleet.apply_status(status)
        for queue in self.listeners:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled watcher misses changes
                queue.put_nowait(status)
        log.info(
            "checkpoint state",
            extra={"checkpoint_id": status.checkpoint_id, "state": ev.CheckpointState.Name(state)},
        )

    async def _evaluate(self, view: CheckpointView) -> None:
        """Deploy, then publish the jobs not done yet (all of them, the first time)."""
        policy = view.policy(self.policies)
        if policy is None:
            return
        refusal = self.roots.refusal(view.checkpoint.uri)
        if refusal:
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, refusal)
            return
        served = await self._served(view)
        if served is None:
            return
        await self.publish_status(view, ev.CHECKPOINT_STATE_DEPLOYING)
        try:
            endpoint = await self.deployer.deploy(served, policy.serving)
        except DeployError as error:
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, str(error))
            await self._discard_converted(view)
            return
        await self.publish_status(view, ev.CHECKPOINT_STATE_READY)
        jobs = plan_jobs(view.checkpoint, policy, endpoint)
        view.jobs = {job.job_id for job in jobs}
        # Consecutive partitions from one the checkpoint picks: the group's round-robin
        # assignment hands consecutive partitions to different runners, so one checkpoint's
        # jobs spread evenly (hashing job ids put five of six on one runner in a measured run).
        partitions = await self._producer.partition_count(self.topics.jobs)
        first = zlib.crc32(view.checkpoint.checkpoint_id.encode())
        for index, job in enumerate(jobs):
            if job.job_id not in view.done:
                partition = (first + index) % partitions
                await self._producer.send(self.topics.jobs, job, job.job_id, partition=partition)
        await self.publish_status(view, ev.CHECKPOINT_STATE_EVALUATING)

    async def _served(self, view: CheckpointView) -> ev.CheckpointDiscovered | None:
        """What the endpoint loads: the checkpoint itself, or its HF copy (converted ahead, or
        before a restart); None when the conversion failed (FAILED is published)."""
        if not needs_conversion(view.checkpoint):
            return view.checkpoint
        if view.served is not None:
            return view.served
        try:
            view.served = await self.converter.convert(view.checkpoint)
        except ConversionFailed as error:
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, str(error))
        return view.served

    async def _convert(self, view: CheckpointView, announce: bool) -> None:
        """Convert ahead of the endpoint: the copy waits in CONVERTING for the scheduler.
        `announce` is False for a checkpoint the log already says is CONVERTING."""
        view.served = None
        refusal = self.roots.refusal(view.checkpoint.uri)
        if refusal:
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, refusal)
            return
        if announce:
            await self.publish_status(view, ev.CHECKPOINT_STATE_CONVERTING)
        try:
            view.served = await self.converter.convert(view.checkpoint)
        except ConversionFailed as error:
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, str(error))

    def _convert_ahead(self) -> None:
        """As many checkpoints as endpoints are free, plus `conversion_ahead`, may be converting
        or converted and waiting: the next checkpoints' conversions overlap the evaluation of
        the ones before them, and their copies on disk stay bounded."""
        converting = self.fleet.converting()
        for view in converting:  # left by a restart: converted (or a finished copy reused)
            idle = view.checkpoint.checkpoint_id not in self._busy
            if idle and view.served is None and view.policy(self.policies) is not None:
                self._spawn(view, self._convert(view, announce=False))
        free = max(self.policies.budget.max_endpoints - len(self.fleet.active()), 0)
        room = free + self.config.conversion_ahead - len(converting)
        if room <= 0:
            return  # spare ordering every waiting checkpoint
        for view in self.fleet.candidates(self.policies, to_convert=True)[:room]:
            if view.checkpoint.checkpoint_id not in self._busy:
                view.state = ev.CHECKPOINT_STATE_CONVERTING  # counts against `room` now
                self._spawn(view, self._convert(view, announce=True))

    async def _discard_converted(self, view: CheckpointView) -> None:
        policy = view.policy(self.policies)
        view.served = None
        if needs_conversion(view.checkpoint) and not (policy and policy.keep_converted):
            await self.converter.discard(view.checkpoint.checkpoint_id)

    async def _finish(self, view: CheckpointView) -> None:
        checkpoint = view.checkpoint
        keep_warm = not view.failures and self.fleet.waiting_in(checkpoint.run_id, self.policies)
        await self.deployer.teardown(checkpoint.checkpoint_id, keep_warm)
        await self._discard_converted(view)
        if view.failures:
            reasons = "; ".join(sorted(set(view.failures.values())))[:2000]
            await self.publish_status(view, ev.CHECKPOINT_STATE_FAILED, reasons)
        else:
            await self.publish_status(view, ev.CHECKPOINT_STATE_DONE)

    def _spawn(self, view: CheckpointView, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._busy[view.checkpoint.checkpoint_id] = task
        task.add_done_callback(lambda done: self._settle(view, done))

    def _settle(self, view: CheckpointView, task: asyncio.Task[None]) -> None:
        """A step that crashed (broker hiccup, say) is retried: the view waits again."""
        self._busy.pop(view.checkpoint.checkpoint_id, None)
        if task.cancelled() or task.exception() is None:
            return
        log.error(
            "checkpoint step failed; will retry",
            exc_info=task.exception(),
            extra={"checkpoint_id": view.checkpoint.checkpoint_id},
        )
        if view.state in _RETRIED:
            view.state = ev.CHECKPOINT_STATE_DISCOVERED

    def _schedule(self) -> None:
        for view in self.fleet.active():
            idle = view.checkpoint.checkpoint_id not in self._busy
            if idle and view.state == ev.CHECKPOINT_STATE_EVALUATING and view.all_jobs_reported:
                if view.failures and view.retries < self.config.job_retries:
                    # A job fails when its endpoint stayed down longer than the runners wait
                    # (restarts piling up): deploy again and send the failed jobs once more.
                    view.retries += 1
                    view.failures.clear()
                    self._spawn(view, self._evaluate(view))
                else:
                    self._spawn(view, self._finish(view))
        for view in self.scheduler.pick(self.fleet):
            if view.checkpoint.checkpoint_id not in self._busy:
                view.state = ev.CHECKPOINT_STATE_DEPLOYING  # counts against the budget now
                self._spawn(view, self._evaluate(view))
        self._convert_ahead()

    async def _resume(self) -> None:
        """After a restart: evaluate again what was in flight (done jobs are skipped)."""
        for view in self.fleet.active():
            if not view.all_jobs_reported:
                self._spawn(view, self._evaluate(view))

    @staticmethod
    async def _pump(tail: TopicTail[Any], inbox: asyncio.Queue[Delivery[Any]]) -> None:
        while True:
            for delivery in await tail.read(timeout_ms=1000):
                await inbox.put(delivery)

    async def _follow(self, tail: TopicTail[Any], context: ServiceContext) -> None:
        """React to a record on any topic at once; schedule at least every tick."""
        inbox: asyncio.Queue[Delivery[Any]] = asyncio.Queue(maxsize=self.config.inbox_records)
        pump = asyncio.create_task(self._pump(tail, inbox))
        try:
            while not context.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    self._apply(await asyncio.wait_for(inbox.get(), self.config.tick_s))
                    while not inbox.empty():
                        self._apply(inbox.get_nowait())
                if pump.done():
                    pump.result()  # a broken tail stops the service; the supervisor restarts it
                self._schedule()
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def rebuild(self) -> TopicTail[Any]:
        """The view the log leaves, replayed a batch at a time; returns the tail to follow."""
        tail = await self._tail()
        try:
            async for batch in tail.replay(self._replay_since):
                for delivery in batch:
                    self._apply(delivery, replayed=True)
        except BaseException:
            await tail.stop()
            raise
        return tail

    async def run(self, context: ServiceContext) -> None:
        await reach_broker(context, self.kafka, self.topics.partitions(self.config.job_partitions))
        await self._producer.start()
        tail = await self.rebuild()
        try:
            await self.deployer.start()
            await self.converter.start()
            await self._resume()
            context.health.set_ready(True)
            await self._follow(tail, context)
        finally:
            for task in list(self._busy.values()):
                task.cancel()
            await tail.stop()
            await self._producer.stop()
