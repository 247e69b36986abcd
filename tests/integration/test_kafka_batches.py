"""A batch consumer hands the next fetch over while the last one's writes still run, and
commits a fetch only once they are done: on both real brokers."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError
from kiseki.core.kafka_batches import BatchConsumer, Rest
from kiseki.core.kafka_config import KafkaConfig
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all
from support.polling import poll_until_async

Job = ev.EvaluationJob


async def _send(producer: ProtoProducer, topic: str, *job_ids: str) -> None:
    for job_id in job_ids:
        await producer.send(topic, Job(job_id=job_id, checkpoint_id="ck"), key="ck")


class Writes:
    """A handler whose writes finish when the test says: each fetch's rest is a future."""

    def __init__(self, held: int = 1_000) -> None:
        """`held`: how many fetches' rests wait for the test; those after are done at once."""
        self.fetches: list[list[str]] = []
        self.rests: list[Rest] = []
        self.partitions: set[int] = set()
        self._held = held

    async def __call__(self, batch: list[Delivery[Job]]) -> Rest:
        self.fetches.append([d.message.job_id for d in batch])
        self.partitions.update(d.partition for d in batch)
        self.rests.append(asyncio.get_running_loop().create_future())
        if len(self.rests) > self._held:
            self.rests[-1].set_result(None)
        return self.rests[-1]

    def seen(self) -> list[str]:
        return [job for fetch in self.fetches for job in fetch]

    async def handed(self, count: int) -> bool:
        return len(self.fetches) >= count


async def _poll_until_fetched(consumer: BatchConsumer[Job], writes: Writes, count: int) -> None:
    async def fetched() -> bool:
        if not await writes.handed(count):
            await consumer.poll_batch(writes, timeout_ms=250, max_records=2)
        return await writes.handed(count)

    await poll_until_async(fetched, timeout_s=30)


async def _next_job_of_group(config: KafkaConfig, producer: ProtoProducer) -> str:
    """What a new member of the test's group is given first after one more record is sent."""
    await _send(producer, config.topics.jobs, "after")
    group = _group(config)
    [first, *_] = await consume_all(config, config.topics.jobs, group, Job, producer, expected=1)
    return first.message.job_id


def _group(config: KafkaConfig) -> str:
    """The test's own group: the brokers outlive a test, and a group left mid-rebalance can
    make the next member wait (Tansu, the rebalance test)."""
    return f"{config.topic_prefix}-batches"


def _member(config: KafkaConfig, producer: ProtoProducer) -> BatchConsumer[Job]:
    return BatchConsumer(config, {config.topics.jobs: Job}, _group(config), producer)


async def _second_handed_over(
    consumer: BatchConsumer[Job], producer: ProtoProducer, topic: str, writes: Writes
) -> asyncio.Future[int]:
    """Four records sent, two a fetch: the poll that has handed the second fetch over, still
    waiting for the first one's rest."""
    await _send(producer, topic, "a", "b", "c", "d")
    await consumer.start()
    await _poll_until_fetched(consumer, writes, 1)
    second = asyncio.ensure_future(consumer.poll_batch(writes, 250, max_records=2))
    await poll_until_async(lambda: writes.handed(2), timeout_s=30)
    return second


async def test_the_next_fetch_is_handed_over_while_the_last_is_written(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    writes = Writes()
    consumer = _member(kafka_config, producer)
    try:
        second = await _second_handed_over(consumer, producer, kafka_config.topics.jobs, writes)
        assert writes.seen() == ["a", "b", "c", "d"]
        assert not second.done()  # the first fetch is not committed until its rest is done
        writes.rests[0].set_result(None)
        writes.rests[1].set_result(None)
        assert await second == 2
    finally:
        await consumer.stop()  # commits the second fetch, its rest done
    assert await _next_job_of_group(kafka_config, producer) == "after"


async def test_a_fetch_whose_write_fails_transiently_comes_again_with_the_one_after(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    writes = Writes()
    consumer = _member(kafka_config, producer)
    try:
        second = await _second_handed_over(consumer, producer, kafka_config.topics.jobs, writes)
        writes.rests[0].set_exception(TransientError("store unavailable"))
        writes.rests[1].set_result(None)
        with pytest.raises(TransientError):
            await second
        await _poll_until_fetched(consumer, writes, 3)
        assert writes.fetches[2] == ["a", "b"]  # rewound to the first fetch not committed
        for rest in writes.rests[2:]:
            rest.set_result(None)
    finally:
        await consumer.stop()


async def test_a_fetch_whose_write_fails_is_written_record_by_record(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    topic = kafka_config.topics.jobs
    await _send(producer, topic, "good", "poison")
    written: list[str] = []

    async def write(batch: list[Delivery[Job]]) -> Rest:
        async def rest() -> None:
            if any(d.message.job_id == "poison" for d in batch):
                raise ValueError("the store refused a row")
            written.extend(d.message.job_id for d in batch)

        return asyncio.ensure_future(rest())

    consumer = _member(kafka_config, producer)
    await consumer.start()
    try:

        async def settled() -> bool:
            await consumer.poll_batch(write, timeout_ms=250)
            return bool(written)

        await poll_until_async(settled, timeout_s=30)
    finally:
        await consumer.stop()
    assert written == ["good"]
    [dead] = await consume_all(
        kafka_config, kafka_config.topics.dlq, "dlq", ev.DeadLetter, producer, expected=1
    )
    assert Job.FromString(dead.message.value).job_id == "poison"
    assert "the store refused a row" in dead.message.error
    assert await _next_job_of_group(kafka_config, producer) == "after"


async def _committed(config: KafkaConfig, partition: TopicPartition) -> int:
    """The offset the test's group has committed on `partition` (asked as a non-member)."""
    reader = AIOKafkaConsumer(group_id=_group(config), **config.client_kwargs())
    await reader.start()
    try:
        return await reader.committed(partition) or 0
    finally:
        await reader.stop()


async def test_a_member_losing_its_partitions_first_commits_what_it_has_written(
    kafka_config: KafkaConfig, producer: ProtoProducer
) -> None:
    """A second member joins while the first holds a written, uncommitted fetch: the first
    commits it before the rebalance (after it, the fetch's offsets would no longer count)."""
    topic = kafka_config.topics.jobs
    await _send(producer, topic, "a", "b")
    writes = Writes(held=1)
    first, second = _member(kafka_config, producer), _member(kafka_config, producer)
    try:
        await first.start()
        await _poll_until_fetched(first, writes, 1)
        writes.rests[0].set_result(None)  # written; committed at the next poll, or before then
        [partition] = {TopicPartition(topic, index) for index in writes.partitions}
        assert await _committed(kafka_config, partition) == 0
        await second.start()

        async def joined() -> bool:
            await second.poll_batch(writes, timeout_ms=250)
            return second.joined

        await poll_until_async(joined, timeout_s=60)
        assert await _committed(kafka_config, partition) == 2
    finally:
        await second.stop()
        await first.stop()
    assert writes.seen() == ["a", "b"]
