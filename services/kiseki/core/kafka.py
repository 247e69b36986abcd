"""Protobuf messages over Kafka with aiokafka: the producer, decoding, topic creation.

The consumer side (manual commits, dead-lettering) is in kafka_consumer.py.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from google.protobuf.message import DecodeError, Message

from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.metrics import MESSAGES_PRODUCED

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Message)
TYPE_HEADER = "kiseki-type"
# On a results record whose every sample names its prompt by hash alone (the texts on the
# prompts topic): its reader need not look at the samples for texts (the sink's hot path).
TEXTS_HEADER, TEXTS_BY_HASH = "kiseki-texts", "by-hash"


class TransientError(Exception):
    """The handler could not process the record now (endpoint or store down): retry it later."""


@dataclass(frozen=True)
class Delivery(Generic[M]):
    message: M
    key: str
    headers: dict[str, str]
    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0  # when the producer sent it (its clock)
    # The record's bytes as decoded (b"" for a message made in process).
    value: bytes = field(default=b"", repr=False)


class ProtoProducer:
    def __init__(self, config: KafkaConfig, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            client_id=client_id,
            acks="all",
            max_request_size=config.max_message_bytes,
            **config.client_kwargs(),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def partition_count(self, topic: str) -> int:
        return len(await self._producer.partitions_for(topic))

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        message: Message,
        key: str,
        headers: dict[str, str] | None = None,
        partition: int | None = None,
    ) -> None:
        """Publish and wait for the broker's acknowledgement; the key picks the partition
        unless `partition` is given."""
        all_headers = {TYPE_HEADER: message.DESCRIPTOR.full_name, **(headers or {})}
        await self._producer.send_and_wait(
            topic,
            message.SerializeToString(),
            key=key.encode(),
            headers=[(name, value.encode()) for name, value in all_headers.items()],
            partition=partition,
        )
        MESSAGES_PRODUCED.labels(topic=topic).inc()


def _record_type(message_type: type[Message]) -> str:
    """The type of the records `message_type` reads: its own, or for a view of a record (a
    message nested in the record's type, e.g. JobResults.View) the record's."""
    descriptor = message_type.DESCRIPTOR
    container = descriptor.containing_type
    return str((container or descriptor).full_name)


def decode(record: ConsumerRecord[bytes, bytes], message_type: type[M]) -> Delivery[M]:
    """Decode one record or raise ValueError saying why it is not a `message_type`."""
    headers = {name: value.decode(errors="replace") for name, value in record.headers}
    expected = _record_type(message_type)
    declared = headers.get(TYPE_HEADER, expected)
    if declared != expected:
        raise ValueError(f"record declares type {declared!r}, expected {expected!r}")
    if record.value is None:
        raise ValueError("record has no value")
    message = message_type()
    try:
        message.ParseFromString(record.value)
    except DecodeError as error:
        raise ValueError(f"not a valid {expected}: {error}") from None
    key = record.key.decode(errors="replace") if record.key is not None else ""
    return Delivery(
        message,
        key,
        headers,
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        record.value,
    )


async def ensure_topics(config: KafkaConfig, partitions: dict[str, int]) -> None:
    """Create the topics that do not exist yet (replication 1 locally; set by ops on a cluster),
    the compacted ones (Topics.compacted) with `cleanup.policy=compact`."""
    compacted = config.topics.compacted()
    admin = AIOKafkaAdminClient(**config.client_kwargs())
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        wanted: Sequence[NewTopic] = [
            NewTopic(
                name,
                num_partitions=count,
                replication_factor=1,
                topic_configs={"cleanup.policy": "compact"} if name in compacted else {},
            )
            for name, count in partitions.items()
            if name not in existing
        ]
        # Another service may create a topic between our list and our create.
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(list(wanted))
    finally:
        await admin.close()
