"""What the status topic says about a job's checkpoint: finished, or deployed again since.

A job of a finished checkpoint is stale: a redelivery after its results were published, or a
copy the orchestrator published again when it restarted. Its endpoint is torn down, so
scoring it would only wait out the retries; the runner skips it instead. A backfill publishes
a newer DISCOVERED status, which makes the checkpoint unfinished again.

A job published before its checkpoint's latest READY is stale too: the orchestrator deployed
the checkpoint again (after a restart, on a new tritonserver; or to retry failed jobs) and
then published every job not done yet again, with the endpoint as it is now. The old copy
names an endpoint that may be gone, and retrying it would hold the runner for minutes. Both
times come from the orchestrator's clock (the status it sets, the job record it sends).
"""

from __future__ import annotations

from collections.abc import Iterable

from kiseki.core.kafka import Delivery, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.status import is_lifecycle
from kiseki.v1 import events_pb2 as ev

FINAL = {ev.CHECKPOINT_STATE_DONE, ev.CHECKPOINT_STATE_FAILED}


class FinishedCheckpoints:
    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self._tail = TopicTail(kafka, {kafka.topics.status: ev.CheckpointStatus})
        self._latest: dict[str, tuple[int, int]] = {}  # checkpoint id → (changed_at ns, state)
        self._ready_at_ns: dict[str, int] = {}  # checkpoint id → its latest READY

    async def start(self) -> None:
        await ensure_topics(self.kafka, self.kafka.topics.partitions())
        await self._tail.start()
        self._apply(await self._tail.read_to_end())

    async def stop(self) -> None:
        await self._tail.stop()

    def _apply(self, deliveries: Iterable[Delivery[ev.CheckpointStatus]]) -> None:
        for delivery in deliveries:
            status = delivery.message
            if not is_lifecycle(status):
                continue
            changed_at = status.changed_at.ToNanoseconds()
            if changed_at >= self._latest.get(status.checkpoint_id, (-1, 0))[0]:
                self._latest[status.checkpoint_id] = (changed_at, status.state)
            if status.state == ev.CHECKPOINT_STATE_READY:
                ready_at = max(changed_at, self._ready_at_ns.get(status.checkpoint_id, 0))
                self._ready_at_ns[status.checkpoint_id] = ready_at

    def _final(self, checkpoint_id: str) -> bool:
        return self._latest.get(checkpoint_id, (0, 0))[1] in FINAL

    async def finished(self, checkpoint_id: str) -> bool:
        """Whether the checkpoint's latest status, as of now, is DONE or FAILED. What the
        consumer has buffered answers unless it says finished: then the tail is read to its
        end, since a buffered DONE can precede a backfill's DISCOVERED that the consumer does
        not fetch until its buffer is read. (Reading to the end for every job costs a fetch
        round trip per job start.)"""
        self._apply(await self._tail.read(timeout_ms=0))
        if not self._final(checkpoint_id):
            return False
        self._apply(await self._tail.read_to_end())
        return self._final(checkpoint_id)

    async def stale(self, checkpoint_id: str, published_ms: int) -> bool:
        """Whether a job of the checkpoint published at `published_ms` (its record's time) is
        stale: the checkpoint finished, or was made READY again after the job was sent."""
        if await self.finished(checkpoint_id):
            return True
        # In whole milliseconds (a record's resolution): a job sent in the millisecond of its
        # READY is current.
        return published_ms < self._ready_at_ns.get(checkpoint_id, 0) // 1_000_000
