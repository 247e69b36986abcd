"""Every message type crosses both real brokers; committed offsets survive a consumer restart."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError, ensure_topics
from kiseki.core.kafka_batches import BatchConsumer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.core.kafka_tail import LATEST, TopicTail
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all
from support.messages import SAMPLE_MESSAGES


async def poll_rounds(consumer: ProtoConsumer[Any], handler: Any, rounds: int) -> None:
    for _ in range(rounds):
        await consumer.poll(handler, timeout_ms=500)


@pytest.mark.parametrize("message", SAMPLE_MESSAGES, ids=lambda m: m.DESCRIPTOR.name)
async def test_message_round_trips(
    kafka_config: KafkaConfig, producer: ProtoProducer, message: Message
) -> None:
    topic = f"{kafka_config.topic_prefix}.{message.DESCRIPTOR.name}"
    await producer.send(topic, message, key="run-1", headers={"trace": "abc"})
    [delivery] = await consume_all(kafka_config, topic, "g1", type(message), producer, expected=1)
    assert delivery.message == message
    assert delivery.key == "run-1"
    assert delivery.headers["trace"] == "abc"
    assert delivery.headers["kiseki-type"] == message.DESCRIPTOR.full_name


async def test_committed_offsets_survive_a_consumer_restart(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    topic = kafka_config.topics.status
    sent = [ev.CheckpointStatus(checkpoint_id=f"ck-{i}", step=i) for i in range(6)]
    for message in sent:
        await producer.send(topic, message, key="run-1")
    first = await consume_all(
        kafka_config, topic, "g", ev.CheckpointStatus, producer, 3, max_records=3
    )
    assert [d.message for d in first] == sent[:3]
    second = await consume_all(kafka_config, topic, "g", ev.CheckpointStatus, producer, 3)
    assert [d.message for d in second] == sent[3:]


async def test_transient_error_redelivers_the_same_record(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    topic = kafka_config.topics.jobs
    await producer.send(topic, ev.EvaluationJob(job_id="j1"), key="ck")
    await producer.send(topic, ev.EvaluationJob(job_id="j2"), key="ck")
    attempts: list[str] = []

    async def flaky(delivery: Delivery[ev.EvaluationJob]) -> None:
        attempts.append(delivery.message.job_id)
        if len(attempts) == 1:
            raise TransientError("endpoint unavailable")

    consumer = ProtoConsumer(kafka_config, {topic: ev.EvaluationJob}, "g", producer)
    await consumer.start()
    try:
        with pytest.raises(TransientError):
            await poll_rounds(consumer, flaky, rounds=40)
        for _ in range(40):
            if attempts.count("j2"):
                break
            await consumer.poll(flaky, timeout_ms=500)
    finally:
        await consumer.stop()
    assert attempts == ["j1", "j1", "j2"]


async def test_ensure_topics_creates_partitions_once(kafka_config: KafkaConfig) -> None:
    topics = kafka_config.topics
    wanted = {topics.jobs: 3, topics.results: 2}
    await ensure_topics(kafka_config, wanted)
    await ensure_topics(kafka_config, wanted)  # idempotent
    producer = ProtoProducer(kafka_config, "probe")
    await producer.start()
    try:
        partitions = await producer._producer.partitions_for(topics.jobs)
        assert partitions == {0, 1, 2}
    finally:
        await producer.stop()


async def test_a_member_counts_as_joined_once_its_group_has_assigned_it(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    """Two members of one group on a one-partition topic: both join, one of them a spare."""
    topic = f"{kafka_config.topic_prefix}.joined"
    await ensure_topics(kafka_config, {topic: 1})
    members = [
        ProtoConsumer(kafka_config, {topic: ev.CheckpointStatus}, "joiners", producer)
        for _ in range(2)
    ]
    assert not any(member.joined for member in members)
    for member in members:
        await member.start()
    try:
        for _ in range(40):
            if all(member.joined for member in members):
                break
            for member in members:
                await member.poll(_ignore, timeout_ms=250)
        assert all(member.joined for member in members)
    finally:
        for member in members:
            await member.stop()


async def _ignore(delivery: Delivery[ev.CheckpointStatus]) -> None:
    raise AssertionError(f"nothing was published, yet got {delivery.message}")


async def test_one_member_consumes_several_topics_each_as_its_own_type(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    topics = kafka_config.topics
    await ensure_topics(kafka_config, topics.partitions())
    await producer.send(topics.status, ev.CheckpointStatus(checkpoint_id="ck-1"), key="ck-1")
    await producer.send(topics.checkpoints, ev.CheckpointDiscovered(checkpoint_id="ck-1"), "r")
    types: dict[str, type[Message]] = {
        topics.status: ev.CheckpointStatus,
        topics.checkpoints: ev.CheckpointDiscovered,
    }
    consumer: BatchConsumer[Message] = BatchConsumer(kafka_config, types, "sinks", producer)
    seen: list[Delivery[Message]] = []

    async def keep(batch: list[Delivery[Message]]) -> None:
        seen.extend(batch)

    await consumer.start()
    try:
        for _ in range(40):
            if len(seen) == 2:
                break
            await consumer.poll_batch(keep, timeout_ms=250)
    finally:
        await consumer.stop()
    assert sorted((d.topic, type(d.message).__name__) for d in seen) == [
        (topics.checkpoints, "CheckpointDiscovered"),
        (topics.status, "CheckpointStatus"),
    ]


async def test_a_tail_replays_its_topics_in_the_order_it_was_given_them(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    """The orchestrator replays checkpoints before their statuses, whichever came first."""
    topics = kafka_config.topics
    await ensure_topics(kafka_config, topics.partitions())
    for step in range(3):
        status = ev.CheckpointStatus(checkpoint_id=f"ck-{step}", step=step)
        await producer.send(topics.status, status, key="ck")
    await producer.send(topics.checkpoints, ev.CheckpointDiscovered(checkpoint_id="ck-0"), "r")
    tail: TopicTail[Message] = TopicTail(
        kafka_config,
        {topics.checkpoints: ev.CheckpointDiscovered, topics.status: ev.CheckpointStatus},
    )
    await tail.start()
    try:
        replay = await tail.read_to_end()
    finally:
        await tail.stop()
    assert [d.topic for d in replay] == [topics.checkpoints] + [topics.status] * 3
    assert [d.message.step for d in replay[1:]] == [0, 1, 2]  # type: ignore[attr-defined]


async def test_a_tail_passes_over_the_records_it_does_not_want_without_decoding_them(
    kafka_config: KafkaConfig, producer: ProtoProducer, caplog: pytest.LogCaptureFixture
) -> None:
    """The orchestrator reads the results of the checkpoints in flight and no others."""
    topic = kafka_config.topics.results
    await ensure_topics(kafka_config, kafka_config.topics.partitions())
    for job in range(3):
        results = ev.JobResults(summary=ev.JobSummary(job_id=f"old-{job}", checkpoint_id="old"))
        await producer.send(topic, results, key="old")
    raw = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
    await raw.start()
    try:
        await raw.send_and_wait(topic, b"\xff\xff not protobuf", key=b"old")
    finally:
        await raw.stop()
    live = ev.JobResults(summary=ev.JobSummary(job_id="live-0", checkpoint_id="live"))
    await producer.send(topic, live, key="live")
    tail: TopicTail[ev.JobResults] = TopicTail(
        kafka_config, {topic: ev.JobResults}, wanted=lambda _topic, key: key == b"live"
    )
    await tail.start()
    try:
        batches = [batch async for batch in tail.replay()]
    finally:
        await tail.stop()
    assert [d.message.summary.job_id for batch in batches for d in batch] == ["live-0"]
    assert "undecodable" not in caplog.text


@pytest.mark.parametrize("broker", ["apache_kafka"], indirect=True)
async def test_a_replay_can_start_a_topic_at_a_time(kafka_config: KafkaConfig) -> None:
    """The orchestrator replays results from when its earliest evaluation in flight was asked
    for, and none when none is in flight. (Tansu answers a time lookup with offset 0: the
    whole topic is replayed, and the summaries from before are dropped by their time.)"""
    topics = kafka_config.topics
    await ensure_topics(kafka_config, topics.partitions())
    raw = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
    await raw.start()
    try:
        for sent_ms in (1000, 2000, 3000):
            for topic in (topics.results, topics.status):
                status = ev.CheckpointStatus(checkpoint_id=f"at-{sent_ms}")
                await raw.send_and_wait(topic, status.SerializeToString(), timestamp_ms=sent_ms)
    finally:
        await raw.stop()
    tail: TopicTail[ev.CheckpointStatus] = TopicTail(
        kafka_config, {topics.results: ev.CheckpointStatus, topics.status: ev.CheckpointStatus}
    )
    since = {topics.results: 2500, topics.status: LATEST}
    await tail.start()
    try:
        replay = [d async for batch in tail.replay(since.get) for d in batch]
    finally:
        await tail.stop()
    assert [(d.topic, d.message.checkpoint_id) for d in replay] == [(topics.results, "at-3000")]
