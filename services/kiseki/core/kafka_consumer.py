"""Consumer-group members for protobuf topics: manual commits and dead-lettering.

Delivery is at-least-once: a consumer commits an offset only after its handler has finished
with the record (or the record went to the dead-letter topic). Handlers must be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf.timestamp_pb2 import Timestamp

from kiseki.core.kafka import Delivery, M, ProtoProducer, TransientError, decode
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.metrics import DEAD_LETTERS, MESSAGES_CONSUMED
from kiseki.v1 import events_pb2

log = logging.getLogger(__name__)

Handler = Callable[[Delivery[M]], Awaitable[None]]
Validator = Callable[[M], None]


class _JoinListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts the member's assignments; before its partitions go, the fetch it left unfinished
    is settled (`settle`), so that its new owner need not fetch it again."""

    def __init__(self, settle: Callable[[], Awaitable[None]]) -> None:
        self.assignments = 0
        self._settle = settle

    @property
    def joined(self) -> bool:
        return self.assignments > 0

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """A rebalance under way leaves the member joined: it rejoins on its own."""
        await self._settle()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # Called after every join, even one that assigns nothing (more members than
        # partitions): such a member is ready, a spare.
        self.assignments += 1


class ProtoConsumer(Generic[M]):
    """A consumer-group member for some topics, each of one message type, committing manually.

    A service that consumes several topics does so with one member (one fetch loop): the
    local broker polls its storage for every fetch of every consumer, idle or not.

    Records that do not decode, fail `validate`, or make the handler raise anything but
    TransientError go to the dead-letter topic with the error, and consumption goes on. A
    KafkaError from the handler (publishing its output while the broker is away) is the
    broker's fault, not the record's: it counts as a TransientError and the record is retried.
    """

    def __init__(
        self,
        config: KafkaConfig,
        types: Mapping[str, type[M]],
        group_id: str,
        dead_letters: ProtoProducer,
        validate: Validator[M] | None = None,
        max_handling_s: float = 300.0,
        partition_fetch_bytes: int = 0,
    ) -> None:
        """`max_handling_s`: the longest one poll's records may take to handle before the
        group counts this member as stuck and gives its partitions to another.
        `partition_fetch_bytes`: how much one fetch may bring of each partition (at least one
        record; default one record's limit, KISEKI_KAFKA_MAX_MESSAGE_BYTES)."""
        self.group_id, self._types = group_id, dict(types)
        self._dead_letters, self._dlq_topic = dead_letters, config.topics.dlq
        self._max_bytes = config.max_message_bytes
        self._validate = validate
        self._listener = _JoinListener(self._settle)
        self._consumer = AIOKafkaConsumer(
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=max(partition_fetch_bytes, config.max_message_bytes),
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=max(100, config.session_timeout_ms // 3),
            max_poll_interval_ms=int(max_handling_s * 1000),
            **config.client_kwargs(),
        )

    async def start(self) -> None:
        self._consumer.subscribe(list(self._types), listener=self._listener)
        await self._consumer.start()

    @property
    def joined(self) -> bool:
        """Whether this member has been through a rebalance of its group: until then it
        cannot receive a record, however long it polls."""
        return self._listener.joined

    @property
    def _generation(self) -> int:
        return self._listener.assignments

    async def stop(self) -> None:
        await self._settle()
        await self._consumer.stop()

    async def _settle(self) -> None:
        """Before the member's partitions go (a rebalance) or it stops: finish what it has
        handed over and not committed. A record-by-record poll leaves nothing."""

    async def poll(
        self, handler: Handler[M], timeout_ms: int = 1000, max_records: int = 100
    ) -> int:
        """Process at most one batch; return how many records were handled or dead-lettered.

        On TransientError the partition is rewound to the failing record, what came before it
        is committed, and the error propagates so the caller can back off.
        """
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        next_offsets: dict[TopicPartition, int] = {}
        handled = 0
        try:
            for partition, records in batches.items():
                for record in records:
                    try:
                        await self._handle(record, handler)
                    except TransientError:
                        self._consumer.seek(partition, record.offset)
                        raise
                    next_offsets[partition] = record.offset + 1
                    handled += 1
        finally:
            if next_offsets:
                await self._consumer.commit(next_offsets)
        return handled

    def _decode_valid(self, record: ConsumerRecord[bytes, bytes]) -> Delivery[M]:
        MESSAGES_CONSUMED.labels(topic=record.topic).inc()
        size = len(record.value or b"")
        if size > self._max_bytes:
            # A broker lets one record past the fetch limit; nothing bigger is ever produced.
            raise ValueError(
                f"record of {size} bytes exceeds KISEKI_KAFKA_MAX_MESSAGE_BYTES={self._max_bytes}"
            )
        delivery = decode(record, self._types[record.topic])
        if self._validate is not None:
            self._validate(delivery.message)
        return delivery

    async def _handle(self, record: ConsumerRecord[bytes, bytes], handler: Handler[M]) -> None:
        try:
            delivery = self._decode_valid(record)
        except ValueError as error:
            await self._dead_letter(record, str(error))
            return
        try:
            await handler(delivery)
        except TransientError:
            raise
        except KafkaError as error:
            raise TransientError(f"broker unavailable: {error}") from error
        except Exception as error:
            log.exception("handler failed; dead-lettering", extra={"offset": record.offset})
            await self._dead_letter(record, f"{type(error).__name__}: {error}")

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        failed_at = Timestamp()
        failed_at.GetCurrentTime()
        value = record.value or b""
        if len(value) > self._max_bytes // 2:
            # The envelope must fit under the same limit, or the poison record could never
            # leave the topic.
            error += f" (value cut to its first {self._max_bytes // 2} of {len(value)} bytes)"
            value = value[: self._max_bytes // 2]
        envelope = events_pb2.DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key or b"",
            value=value,
            headers={name: value.decode(errors="replace") for name, value in record.headers},
            error=error,
            consumer_group=self.group_id,
            failed_at=failed_at,
        )
        await self._dead_letters.send(self._dlq_topic, envelope, key=record.topic)
        DEAD_LETTERS.labels(topic=record.topic).inc()
        log.warning("dead-lettered a record", extra={"topic": record.topic, "error": error})
