"""`kiseki dlq list|replay`: look at the dead-letter topic and send letters back.

A letter holds the record as it was (topic, key, value, headers) and why it failed. Once the
cause is fixed (a deployed bug fix, a dataset repaired, the topic that was missing), `replay`
publishes the original records again to their topics; the consumers are idempotent, so a
record replayed twice still counts once. Kafka settings come from the environment
(KISEKI_KAFKA_BOOTSTRAP, KISEKI_TOPIC_PREFIX, SASL/TLS), as for the services.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiokafka import AIOKafkaProducer

from kiseki.cli import CommandError, command_parser
from kiseki.core.config import ConfigError, load_config
from kiseki.core.kafka import Delivery
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.v1 import events_pb2 as ev


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "dlq")
    parser.add_argument("action", choices=["list", "replay"])
    parser.add_argument("--topic", help="only letters from this topic (full name)")
    parser.add_argument("--match", default="", help="only letters whose error contains this")
    parser.add_argument("--from-offset", type=int, default=0, help="skip earlier letters")
    parser.add_argument("--dry-run", action="store_true", help="replay: say what, send nothing")
    parser.set_defaults(func=run)


def _describe(delivery: Delivery[ev.DeadLetter]) -> dict[str, object]:
    letter = delivery.message
    return {
        "dlq_offset": delivery.offset,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "consumer_group": letter.consumer_group,
        "failed_at": letter.failed_at.ToJsonString(),
        "bytes": len(letter.value),
        "error": letter.error,
    }


async def _letters(kafka: KafkaConfig, args: argparse.Namespace) -> list[Delivery[ev.DeadLetter]]:
    tail = TopicTail(kafka, {kafka.topics.dlq: ev.DeadLetter})
    await tail.start()
    try:
        letters = await tail.read_to_end()
    finally:
        await tail.stop()
    return [
        d
        for d in sorted(letters, key=lambda d: (d.partition, d.offset))
        if d.offset >= args.from_offset
        and (not args.topic or d.message.topic == args.topic)
        and args.match in d.message.error
    ]


async def _replay(kafka: KafkaConfig, letters: list[Delivery[ev.DeadLetter]]) -> None:
    producer = AIOKafkaProducer(
        acks="all", max_request_size=kafka.max_message_bytes, **kafka.client_kwargs()
    )
    await producer.start()
    try:
        for delivery in letters:
            letter = delivery.message
            await producer.send_and_wait(
                letter.topic,
                letter.value,
                key=letter.key or None,
                headers=[(name, value.encode()) for name, value in letter.headers.items()],
            )
    finally:
        await producer.stop()


def run(args: argparse.Namespace) -> int:
    try:
        kafka = load_config(KafkaConfig)
    except ConfigError as error:
        raise CommandError(str(error)) from None
    letters = asyncio.run(_letters(kafka, args))
    for delivery in letters:
        print(json.dumps(_describe(delivery), ensure_ascii=False))
    if args.action == "replay" and not args.dry_run:
        asyncio.run(_replay(kafka, letters))
        print(f"replayed {len(letters)} record(s) to their topics")
    return 0
