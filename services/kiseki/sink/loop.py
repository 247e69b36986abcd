"""The sink's loop: one consumer for its topics, batched inserts, back-off while the store
is down; each batch of results written is then checked for regressions (announce.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError
from kiseki.core.kafka_batches import BatchConsumer, Rest, all_of
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.core.startup import reach_broker
from kiseki.core.store import Store, apply_schema
from kiseki.core.store.prompts import stored_digests
from kiseki.sink.announce import RegressionWatch
from kiseki.sink.config import SinkConfig
from kiseki.sink.writer import RESULTS_VIEW, StoreWriter, validate_record
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)

Write = Callable[[list[Delivery[Any]]], Awaitable[Rest | None]]


def routed(writes: dict[str, Write]) -> Write:
    """One fetch holds records of several topics: each topic's records go to its table in
    one insert, and what their writes leave running is one rest. A failure rewinds the whole
    fetch; inserts are idempotent, so the topics already written take the records again
    harmlessly."""

    async def write(deliveries: list[Delivery[Message]]) -> Rest | None:
        by_topic: dict[str, list[Delivery[Message]]] = defaultdict(list)
        for delivery in deliveries:
            by_topic[delivery.topic].append(delivery)
        rests = [await writes[topic](batch) for topic, batch in by_topic.items()]
        running = [rest for rest in rests if rest is not None]
        return asyncio.ensure_future(all_of(running)) if running else None

    return write


async def _then_check(written: Rest, check: Callable[[], None]) -> None:
    await written
    check()


async def _drain(
    consumer: BatchConsumer[Message], write: Write, config: SinkConfig, context: ServiceContext
) -> None:
    """Ready once the consumer has joined its group (until then results would wait) and
    while inserts succeed."""
    backoff = 0.5
    while not context.stopping.is_set():
        try:
            await consumer.poll_batch(write, config.poll_timeout_ms, config.max_batch_records)
            backoff = 0.5
            context.health.set_ready(consumer.joined)
        except TransientError as error:
            context.health.set_ready(False, f"store unavailable: {error}")
            log.warning("store unavailable; retrying", extra={"in_s": backoff, "error": str(error)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, config.max_backoff_s)


async def run_sink(
    context: ServiceContext, kafka: KafkaConfig, config: SinkConfig, store: Store
) -> None:
    await asyncio.to_thread(apply_schema, store)
    writer = StoreWriter(store, config.max_insert_rows, config.known_prompts)
    writer.known.add(await asyncio.to_thread(stored_digests, store, config.known_prompts))
    topics = kafka.topics
    # The sink may start before the orchestrator: a consumer subscribed to a topic that does
    # not exist yet can miss it until its next metadata refresh (minutes).
    await reach_broker(context, kafka)
    producer = ProtoProducer(kafka, "kiseki-sink")
    await producer.start()
    types: dict[str, type[Message]] = {
        topics.prompts: ev.PromptText,
        topics.results: RESULTS_VIEW,
        topics.status: ev.CheckpointStatus,
        topics.checkpoints: ev.CheckpointDiscovered,
    }
    watch = RegressionWatch(store, producer, topics.status, config.regression_alpha)

    async def write_results(batch: list[Delivery[Any]]) -> Rest:
        written = await writer.start_results(batch)
        summaries = [d.message.summary for d in batch if d.message.summary.job_id]
        return asyncio.ensure_future(_then_check(written, lambda: watch.offer(summaries)))

    writes: dict[str, Write] = {
        topics.prompts: writer.write_prompts,
        topics.results: write_results,
        topics.status: writer.write_status,
        topics.checkpoints: writer.write_checkpoints,
    }
    consumer = BatchConsumer(
        kafka,
        types,
        config.group_id,
        producer,
        validate_record,
        partition_fetch_bytes=config.partition_fetch_bytes,
    )
    checks = asyncio.create_task(watch.run())
    try:
        await consumer.start()
        await _drain(consumer, routed(writes), config, context)
    finally:
        checks.cancel()
        await consumer.stop()
        await producer.stop()
