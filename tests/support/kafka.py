"""Kafka helpers for tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.protobuf.message import Message

from kiseki.core.kafka import Delivery, ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.core.kafka_tail import TopicTail
from kiseki.v1 import events_pb2 as ev

M = TypeVar("M", bound=Message)


async def consume_until(
    config: KafkaConfig,
    topic: str,
    group: str,
    message_type: type[M],
    producer: ProtoProducer,
    enough: Callable[[list[Delivery[M]]], bool],
    max_records: int = 100,
    polls: int = 60,
) -> list[Delivery[M]]:
    """Run one consumer-group member until what it handled is `enough` (at most `polls`
    polls of up to 0.5 s each), then stop it."""
    received: list[Delivery[M]] = []

    async def handle(delivery: Delivery[M]) -> None:
        received.append(delivery)

    consumer = ProtoConsumer(config, {topic: message_type}, group, producer)
    await consumer.start()
    try:
        for _ in range(polls):
            if enough(received):
                break
            await consumer.poll(handle, timeout_ms=500, max_records=max_records)
    finally:
        await consumer.stop()
    return received


async def consume_all(
    config: KafkaConfig,
    topic: str,
    group: str,
    message_type: type[M],
    producer: ProtoProducer,
    expected: int,
    max_records: int = 100,
) -> list[Delivery[M]]:
    """Run one consumer-group member until it has handled `expected` records, then stop it."""
    return await consume_until(
        config, topic, group, message_type, producer, lambda got: len(got) >= expected, max_records
    )


async def prompt_records(config: KafkaConfig) -> list[ev.PromptText]:
    """Every record of the prompts topic: the texts a reader of the results topic joins, by
    hash, to samples that carry only the hash."""
    tail = TopicTail(config, {config.topics.prompts: ev.PromptText})
    await tail.start()
    try:
        return [d.message for d in await tail.read_to_end()]
    finally:
        await tail.stop()
