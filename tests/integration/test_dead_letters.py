"""Records that do not decode, or that the handler rejects, go to the dead-letter topic."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all


def _require_checkpoint_id(job: ev.EvaluationJob) -> None:
    if not job.checkpoint_id:
        raise ValueError("job has no checkpoint_id")


async def _poll_until_handled(
    consumer: ProtoConsumer[ev.EvaluationJob],
    handle: Callable[[Delivery[ev.EvaluationJob]], Awaitable[None]],
    handled: list[str],
) -> None:
    """Poll (20 s at most) until `handle` has taken a record, then leave the group."""
    await consumer.start()
    try:
        for _ in range(40):
            if handled:
                break
            await consumer.poll(handle, timeout_ms=500)
    finally:
        await consumer.stop()


async def test_poison_records_are_dead_lettered_and_consumption_goes_on(
    kafka_config: KafkaConfig,
) -> None:
    topic = kafka_config.topics.jobs
    raw = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
    producer = ProtoProducer(kafka_config, "test")
    await raw.start()
    await producer.start()
    try:
        await raw.send_and_wait(topic, b"\xff\xff\xff not protobuf", key=b"ck")
        await producer.send(topic, ev.CheckpointStatus(checkpoint_id="x"), key="ck")  # wrong type
        await producer.send(topic, ev.EvaluationJob(job_id="no-checkpoint"), key="ck")  # invalid
        await producer.send(topic, ev.EvaluationJob(job_id="explodes", checkpoint_id="c"), key="ck")
        await producer.send(topic, ev.EvaluationJob(job_id="good", checkpoint_id="c"), key="ck")
        handled: list[str] = []

        async def handle(delivery: Delivery[ev.EvaluationJob]) -> None:
            if delivery.message.job_id == "explodes":
                raise RuntimeError("tokenizer blew up")
            handled.append(delivery.message.job_id)

        consumer = ProtoConsumer(
            kafka_config, {topic: ev.EvaluationJob}, "runner", producer, _require_checkpoint_id
        )
        await _poll_until_handled(consumer, handle, handled)
        assert handled == ["good"]

        letters = await consume_all(
            kafka_config, kafka_config.topics.dlq, "dlq-reader", ev.DeadLetter, producer, 4
        )
        by_offset = {d.message.offset: d.message for d in letters}
        assert sorted(by_offset) == [0, 1, 2, 3]
        assert by_offset[0].value == b"\xff\xff\xff not protobuf"
        assert "not a valid kiseki.v1.EvaluationJob" in by_offset[0].error
        assert "declares type 'kiseki.v1.CheckpointStatus'" in by_offset[1].error
        assert by_offset[2].error == "job has no checkpoint_id"
        assert by_offset[3].error == "RuntimeError: tokenizer blew up"
        assert all(m.topic == topic and m.consumer_group == "runner" for m in by_offset.values())
        assert all(d.key == topic for d in letters)

        # Everything was committed: a restarted member of the group finds nothing left.
        leftover = await consume_all(kafka_config, topic, "runner", ev.EvaluationJob, producer, 1)
        assert leftover == []
    finally:
        await producer.stop()
        await raw.stop()


async def test_a_broker_error_in_the_handler_retries_the_record_instead(
    kafka_config: KafkaConfig,
) -> None:
    topic = kafka_config.topics.jobs
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    try:
        await producer.send(topic, ev.EvaluationJob(job_id="j", checkpoint_id="c"), key="c")
        attempts: list[str] = []

        async def handle(delivery: Delivery[ev.EvaluationJob]) -> None:
            attempts.append(delivery.message.job_id)
            if len(attempts) == 1:  # publishing the results failed: the broker went away
                raise KafkaTimeoutError()

        consumer = ProtoConsumer(kafka_config, {topic: ev.EvaluationJob}, "runner", producer)
        await consumer.start()
        try:

            async def until_the_error() -> None:
                for _ in range(40):
                    await consumer.poll(handle, timeout_ms=500)

            with pytest.raises(TransientError, match="broker unavailable"):
                await until_the_error()
            for _ in range(40):
                if len(attempts) == 2:
                    break
                await consumer.poll(handle, timeout_ms=500)
        finally:
            await consumer.stop()
        assert attempts == ["j", "j"]
        assert (
            await consume_all(
                kafka_config, kafka_config.topics.dlq, "dlq-reader", ev.DeadLetter, producer, 1
            )
            == []
        )
    finally:
        await producer.stop()


async def test_an_oversized_record_is_dead_lettered_cut_to_fit(kafka_config: KafkaConfig) -> None:
    small = dataclasses.replace(kafka_config, max_message_bytes=64 * 1024)
    topic = small.topics.jobs
    raw = AIOKafkaProducer(bootstrap_servers=small.bootstrap_servers)
    producer = ProtoProducer(small, "test")
    await raw.start()
    await producer.start()
    try:
        big = ev.EvaluationJob(job_id="big", checkpoint_id="c", endpoint="x" * 100_000)
        await raw.send_and_wait(topic, big.SerializeToString(), key=b"c")
        await producer.send(topic, ev.EvaluationJob(job_id="next", checkpoint_id="c"), key="c")
        handled: list[str] = []

        async def handle(delivery: Delivery[ev.EvaluationJob]) -> None:
            handled.append(delivery.message.job_id)

        consumer = ProtoConsumer(small, {topic: ev.EvaluationJob}, "runner", producer)
        await _poll_until_handled(consumer, handle, handled)
        assert handled == ["next"]
        [letter] = await consume_all(small, small.topics.dlq, "dlq", ev.DeadLetter, producer, 1)
        assert "exceeds KISEKI_KAFKA_MAX_MESSAGE_BYTES=65536" in letter.message.error
        assert "value cut to its first 32768" in letter.message.error
        assert letter.message.value == big.SerializeToString()[:32768]
    finally:
        await producer.stop()
        await raw.stop()
