"""The ClickHouse server itself killed while results arrive: the sink pauses (not ready, the
reason said), Kafka holds the results, and once the server is back the sink catches up with
every row stored once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.core.store import Store, open_store
from kiseki.local.clickhouse import LocalClickHouse, start_clickhouse
from kiseki.sink.config import SinkConfig
from kiseki.sink.loop import run_sink
from support.messages import job_results
from support.polling import poll_until_async


async def _count(url: str, sql: str) -> int:
    def count() -> int:
        store: Store = open_store(url)
        try:
            return int(next(iter(store.query(sql)[0].values())))
        finally:
            store.close()

    return await asyncio.to_thread(count)


@pytest.mark.parametrize("broker", ["apache_kafka"], indirect=True)
async def test_the_server_killed_mid_run_loses_and_duplicates_nothing(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    server: LocalClickHouse = start_clickhouse(tmp_path)
    url = server.url("kiseki")
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    context = ServiceContext(name="sink", health=Health())
    config = SinkConfig(poll_timeout_ms=200, max_batch_records=7, max_backoff_s=1.0)
    sink = asyncio.create_task(run_sink(context, kafka_config, config, open_store(url)))

    async def ready() -> bool:
        return context.health.snapshot()[1]

    try:
        # Ready once the schema is applied and the group joined: counting before would ask
        # for tables the sink has not made yet.
        await poll_until_async(ready, timeout_s=60, interval_s=0.2)
        for job in range(10):
            await producer.send(kafka_config.topics.results, job_results(f"a{job}", 2), key="ck")

        async def stored(rows: int) -> bool:
            return await _count(url, "SELECT count() FROM sample_results FINAL") == rows

        await poll_until_async(lambda: stored(20), timeout_s=60, interval_s=0.5)
        server.process.signal(signal.SIGKILL)
        server.stop()
        for job in range(20):  # arrive while the server is gone: Kafka holds them
            await producer.send(kafka_config.topics.results, job_results(f"b{job}", 2), key="ck")

        async def paused() -> bool:
            _, ready, reason = context.health.snapshot()
            return not ready and "store unavailable" in reason

        await poll_until_async(paused, timeout_s=60, interval_s=0.2)
        port = server.http_port
        server = await asyncio.to_thread(lambda: start_clickhouse(tmp_path, http_port=port))
        await poll_until_async(lambda: stored(60), timeout_s=120, interval_s=0.5)
        assert await _count(url, "SELECT count() FROM job_summaries FINAL") == 30
        await poll_until_async(ready, timeout_s=30, interval_s=0.2)
    finally:
        context.stopping.set()
        await asyncio.wait_for(sink, 30)
        await producer.stop()
        server.stop()
