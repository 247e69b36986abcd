"""The sink writes results, statuses and checkpoints exactly once, through redeliveries,
poison records and a store outage."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.core.store import Store, StoreUnavailable
from kiseki.core.store.base import Encoded
from kiseki.sink.config import SinkConfig
from kiseki.sink.loop import run_sink
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all
from support.messages import DISCOVERED, STATUS, job_results
from support.polling import poll_until_async

SINK = SinkConfig(poll_timeout_ms=200)


class FlakyStore:
    """The real store behind an outage: the first `failures` inserts find it unreachable."""

    def __init__(self, store: Store, failures: int) -> None:
        self.store, self.failures = store, failures

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.store.command(sql, params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.store.query(sql, params)

    def refuse(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("connection refused")

    def insert_rows(
        self, table: str, rows: Sequence[Mapping[str, Any]], dedup_token: str = ""
    ) -> None:
        self.refuse()
        self.store.insert_rows(table, rows, dedup_token)

    def insert_columns(
        self, table: str, columns: Mapping[str, Sequence[Any]], dedup_token: str = ""
    ) -> None:
        self.refuse()
        self.store.insert_columns(table, columns, dedup_token)

    def insert_encoded(self, table: str, encoded: Encoded, dedup_token: str = "") -> None:
        self.refuse()
        self.store.insert_encoded(table, encoded, dedup_token)

    def close(self) -> None:
        self.store.close()


async def _count(store: Store, sql: str) -> int:
    [row] = await asyncio.to_thread(store.query, sql)
    return int(next(iter(row.values())))


async def test_sink_stores_everything_once(kafka_config: KafkaConfig, store: Store) -> None:
    topics = kafka_config.topics
    producer = ProtoProducer(kafka_config, "test")
    raw = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
    await producer.start()
    await raw.start()
    flaky = FlakyStore(store, failures=2)
    context = ServiceContext(name="sink", health=Health())
    sink = asyncio.create_task(run_sink(context, kafka_config, SINK, flaky))
    try:
        for job in ("jnli", "jamp"):
            await producer.send(topics.results, job_results(job, 3), key="ck")
        await producer.send(topics.results, job_results("jnli", 3), key="ck")  # redelivery
        await raw.send_and_wait(topics.results, b"\x08\xff\xff garbage", key=b"ck")
        # Decodes as a record, but the store refuses it: a mode no ScoringMode has.
        unknown_mode = job_results("jsem", 3)
        unknown_mode.samples[1].scoring_mode = 9  # type: ignore[assignment]
        await producer.send(topics.results, unknown_mode, key="ck")
        await producer.send(topics.status, STATUS, key=STATUS.checkpoint_id)
        await producer.send(topics.status, STATUS, key=STATUS.checkpoint_id)
        await producer.send(topics.checkpoints, DISCOVERED, key=DISCOVERED.run_id)

        async def landed() -> bool:
            samples = await _count(store, "SELECT count() FROM sample_results FINAL")
            statuses = await _count(store, "SELECT count() FROM checkpoint_status FINAL")
            checkpoints = await _count(store, "SELECT count() FROM checkpoints FINAL")
            return samples == 6 and statuses == 1 and checkpoints == 1

        await poll_until_async(landed, timeout_s=60, interval_s=0.2)
        assert flaky.failures == 0  # the outage happened and was ridden out
        scores = await asyncio.to_thread(
            store.query, "SELECT dataset, score, samples FROM dataset_scores ORDER BY dataset"
        )
        assert scores == [
            {"dataset": "jamp", "score": 1 / 3, "samples": 3},
            {"dataset": "jnli", "score": 1 / 3, "samples": 3},
        ]
        assert await _count(store, "SELECT count() FROM job_summaries FINAL") == 2
        letters = await consume_all(kafka_config, topics.dlq, "dlq", ev.DeadLetter, producer, 2)
        assert [d.message.topic for d in letters] == [topics.results] * 2
        assert context.health.snapshot()[1]  # ready again after the outage
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await producer.stop()
        await raw.stop()


async def test_a_failed_redelivery_keeps_the_jobs_success(
    kafka_config: KafkaConfig, store: Store
) -> None:
    topics = kafka_config.topics
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    context = ServiceContext(name="sink", health=Health())
    sink = asyncio.create_task(run_sink(context, kafka_config, SINK, store))
    stale = ev.JobResults(summary=ev.JobSummary(job_id="jnli", checkpoint_id="ck", run_id="run"))
    stale.summary.failed, stale.summary.error = True, "endpoint gone"
    failed_only = ev.JobResults(summary=ev.JobSummary(job_id="jamp", run_id="run", failed=True))
    try:
        await producer.send(topics.results, job_results("jnli", 3), key="ck")
        await poll_until_async(
            lambda: _count(store, "SELECT count() FROM job_summaries FINAL"), timeout_s=60
        )
        # The same job redelivered after its endpoint was torn down, and a job that failed.
        await producer.send(topics.results, stale, key="ck")
        await producer.send(topics.results, failed_only, key="ck")

        async def both() -> bool:
            return await _count(store, "SELECT count() FROM job_summaries FINAL") == 2

        await poll_until_async(both, timeout_s=60, interval_s=0.2)
        rows = await asyncio.to_thread(
            store.query, "SELECT job_id, failed FROM job_summaries FINAL ORDER BY job_id"
        )
        assert rows == [{"job_id": "jamp", "failed": 1}, {"job_id": "jnli", "failed": 0}]
        assert await _count(store, "SELECT count() FROM sample_results FINAL") == 3
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await producer.stop()


class DownStore(FlakyStore):
    """The real store behind an outage that lasts until `down` is cleared."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, failures=0)
        self.down, self.refused = True, 0

    def refuse(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable("connection refused")


@pytest.mark.parametrize("broker", ["apache_kafka"], indirect=True)
async def test_a_store_outage_pauses_the_sink_and_it_catches_up(
    kafka_config: KafkaConfig, store: Store
) -> None:
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    store = DownStore(store)
    context = ServiceContext(name="sink", health=Health())
    config = SinkConfig(poll_timeout_ms=200, max_batch_records=7, max_backoff_s=1.0)
    sink = asyncio.create_task(run_sink(context, kafka_config, config, store))
    try:
        for job in range(30):  # arrive while the store is down: Kafka holds them
            await producer.send(kafka_config.topics.results, job_results(f"d{job}", 2), key="ck")

        async def paused() -> bool:
            _, ready, reason = context.health.snapshot()
            return store.refused >= 3 and not ready and "store unavailable" in reason

        await poll_until_async(paused, timeout_s=60, interval_s=0.2)
        assert await _count(store, "SELECT count() FROM sample_results") == 0
        store.down = False

        async def caught_up() -> bool:  # a fetch's summaries are written after its samples
            samples = await _count(store, "SELECT count() FROM sample_results FINAL")
            summaries = await _count(store, "SELECT count() FROM job_summaries FINAL")
            return (samples, summaries) == (60, 30)

        await poll_until_async(caught_up, timeout_s=90, interval_s=0.5)
        assert context.health.snapshot()[1]  # ready again
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await producer.stop()
