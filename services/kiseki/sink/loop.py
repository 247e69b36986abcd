"""The sink's loop: one consumer per topic, batched inserts, back-off while the store is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.core.service import ServiceContext
from kiseki.core.store import Store, apply_schema
from kiseki.sink.config import SinkConfig
from kiseki.sink.writer import StoreWriter
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)


async def _drain(
    consumer: ProtoConsumer[Message],
    write: Callable[[list[Delivery[Message]]], Awaitable[None]],
    config: SinkConfig,
    context: ServiceContext,
    failing: set[str],
    consumers: list[ProtoConsumer[Message]],
) -> None:
    """`failing`: the topics whose inserts fail now, shared by every drain, so one topic's
    empty polls do not report the sink ready while another's inserts are refused. Ready also
    waits for every consumer to have joined its group: until then results would wait."""
    backoff = 0.5
    while not context.stopping.is_set():
        try:
            await consumer.poll_batch(write, config.poll_timeout_ms, config.max_batch_records)
            backoff = 0.5
            failing.discard(consumer.topic)
            if not failing and all(c.joined for c in consumers):
                context.health.set_ready(True)
        except TransientError as error:
            failing.add(consumer.topic)
            context.health.set_ready(False, f"store unavailable: {error}")
            log.warning("store unavailable; retrying", extra={"in_s": backoff, "error": str(error)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, config.max_backoff_s)


async def run_sink(
    context: ServiceContext, kafka: KafkaConfig, config: SinkConfig, store: Store
) -> None:
    await asyncio.to_thread(apply_schema, store)
    writer = StoreWriter(store)
    topics = kafka.topics
    # The sink may start before the orchestrator: a consumer subscribed to a topic that does
    # not exist yet can miss it until its next metadata refresh (minutes).
    await ensure_topics(kafka, topics.partitions())
    dead_letters = ProtoProducer(kafka, "kiseki-sink")
    await dead_letters.start()
    routes: list[tuple[str, type[Message], Callable[..., Awaitable[None]]]] = [
        (topics.results, ev.JobResults, writer.write_results),
        (topics.status, ev.CheckpointStatus, writer.write_status),
        (topics.checkpoints, ev.CheckpointDiscovered, writer.write_checkpoints),
    ]
    # A group per topic: members of one group with different subscriptions rebalance each
    # other at every start for nothing.
    consumers = [
        ProtoConsumer(kafka, topic, f"{config.group_id}.{topic}", message_type, dead_letters)
        for topic, message_type, _ in routes
    ]
    failing: set[str] = set()
    try:
        for consumer in consumers:
            await consumer.start()
        await asyncio.gather(
            *(
                _drain(c, write, config, context, failing, consumers)
                for c, (_, _, write) in zip(consumers, routes, strict=True)
            )
        )
    finally:
        for consumer in consumers:
            await consumer.stop()
        await dead_letters.stop()
