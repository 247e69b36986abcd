"""Reading whole topics from their beginning, without a consumer group.

A service that derives its state from the log (level-triggered) replays its topics at every
start, catches up to the end, then keeps following them. One tail follows several topics
with one consumer: each consumer is a fetch loop the broker answers (the local broker polls
its storage for each), so a service follows its topics with one. Nothing is committed;
records that do not decode are logged and skipped (the group consumers dead-letter them).

A replay comes a batch at a time and a tail can pass over records by their key without
decoding them: a results topic holds every sample ever scored, more than fits in memory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Generic

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from kiseki.core.kafka import Delivery, M, decode
from kiseki.core.kafka_config import KafkaConfig

log = logging.getLogger(__name__)


# (topic, key) -> whether to decode the record; the others are passed over unread.
Wanted = Callable[[str, bytes | None], bool]


def _everything(topic: str, key: bytes | None) -> bool:
    return True


# topic -> replay its records sent from this time on (ms since the epoch); None: all of them.
Since = Callable[[str], int | None]
LATEST = -1  # replay none of the topic's records


def _from_the_start(topic: str) -> int | None:
    return None


class TopicTail(Generic[M]):
    """`types`: each topic followed and the message type its records hold."""

    def __init__(
        self, config: KafkaConfig, types: Mapping[str, type[M]], wanted: Wanted = _everything
    ) -> None:
        self._types = dict(types)
        self._wanted = wanted
        self._consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=config.max_message_bytes,
            **config.client_kwargs(),
        )
        self._partitions: list[TopicPartition] = []

    async def _partitions_of(self, topic: str) -> list[TopicPartition]:
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(topic) or set()
        if not partitions:
            raise KafkaError(f"topic {topic} does not exist")
        return [TopicPartition(topic, p) for p in sorted(partitions)]

    async def start(self) -> None:
        """Assign every partition of the topics (which must exist) from offset 0."""
        await self._consumer.start()
        self._partitions = [p for topic in self._types for p in await self._partitions_of(topic)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read(self, timeout_ms: int = 500, max_records: int = 500) -> list[Delivery[M]]:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        deliveries = []
        for records in batches.values():
            for record in records:
                if not self._wanted(record.topic, record.key):
                    continue
                try:
                    deliveries.append(decode(record, self._types[record.topic]))
                except ValueError as error:
                    log.warning("skipping an undecodable record", extra={"error": str(error)})
        return deliveries

    async def _caught_up(self, partitions: list[TopicPartition]) -> bool:
        ends = await self._consumer.end_offsets(partitions)
        for partition in partitions:
            if await self._consumer.position(partition) < ends[partition]:
                return False
        return True

    async def _seek_to_time(self, partitions: list[TopicPartition], since_ms: int) -> None:
        """To each partition's first record sent at `since_ms` or later (its end if none;
        LATEST: its end). A broker without a time index (Tansu) answers offset 0."""
        ends = await self._consumer.end_offsets(partitions)
        found = {}
        if since_ms != LATEST:
            found = await self._consumer.offsets_for_times({p: since_ms for p in partitions})
        for partition in partitions:
            at = found.get(partition)
            self._consumer.seek(partition, ends[partition] if at is None else at.offset)

    async def replay(self, since: Since = _from_the_start) -> AsyncIterator[list[Delivery[M]]]:
        """Everything in the topics now, the replay a restarted service rebuilds from, in
        batches: topic by topic in the order the tail was given them (each partition's
        records in order), the other topics paused meanwhile. `since` is asked when a
        topic's turn comes, so it can depend on what the topics before it said."""
        for topic in self._types:
            mine = [p for p in self._partitions if p.topic == topic]
            others = [p for p in self._partitions if p.topic != topic]
            since_ms = since(topic)
            if since_ms is not None:
                await self._seek_to_time(mine, since_ms)
            self._consumer.pause(*others)
            try:
                while not await self._caught_up(mine):
                    yield await self.read()
            finally:
                self._consumer.resume(*others)

    async def read_to_end(self) -> list[Delivery[M]]:
        """The whole replay at once, for topics that fit in memory."""
        return [delivery async for batch in self.replay() for delivery in batch]
