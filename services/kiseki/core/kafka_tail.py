"""Reading whole topics from their beginning, without a consumer group.

A service that derives its state from the log (level-triggered) replays its topics at every
start, catches up to the end, then keeps following them. One tail follows several topics
with one consumer: each consumer is a fetch loop the broker answers (the local broker polls
its storage for each), so a service follows its topics with one. Nothing is committed;
records that do not decode are logged and skipped (the group consumers dead-letter them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Generic

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from kiseki.core.kafka import Delivery, M, decode
from kiseki.core.kafka_config import KafkaConfig

log = logging.getLogger(__name__)


class TopicTail(Generic[M]):
    """`types`: each topic followed and the message type its records hold."""

    def __init__(self, config: KafkaConfig, types: Mapping[str, type[M]]) -> None:
        self._types = dict(types)
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
                try:
                    deliveries.append(decode(record, self._types[record.topic]))
                except ValueError as error:
                    log.warning("skipping an undecodable record", extra={"error": str(error)})
        return deliveries

    async def caught_up(self) -> bool:
        ends = await self._consumer.end_offsets(self._partitions)
        for partition in self._partitions:
            if await self._consumer.position(partition) < ends[partition]:
                return False
        return True

    async def read_to_end(self) -> list[Delivery[M]]:
        """Everything in the topics now: the replay a restarted service rebuilds from, topic
        by topic in the order the tail was given them (each partition's records in order)."""
        deliveries: list[Delivery[M]] = []
        while not await self.caught_up():
            deliveries.extend(await self.read())
        rank = {topic: index for index, topic in enumerate(self._types)}
        return sorted(deliveries, key=lambda delivery: rank[delivery.topic])
