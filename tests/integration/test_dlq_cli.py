"""`kiseki dlq list|replay`: letters are listed with their errors and replayed, key, value
and headers as they were, to the topic they came from."""

from __future__ import annotations

import asyncio
import json

import pytest

from kiseki.cli import main
from kiseki.core.kafka import TYPE_HEADER, ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all

JOB = ev.EvaluationJob(job_id="j", checkpoint_id="c")


async def _dead_letters(kafka: KafkaConfig) -> None:
    producer = ProtoProducer(kafka, "test")
    await producer.start()
    try:
        for offset, error in enumerate(["RuntimeError: tokenizer blew up", "not a valid job"]):
            letter = ev.DeadLetter(
                topic=kafka.topics.jobs,
                offset=offset,
                key=b"c",
                value=JOB.SerializeToString(),
                headers={TYPE_HEADER: "kiseki.v1.EvaluationJob"},
                error=error,
                consumer_group="kiseki-runners",
            )
            await producer.send(kafka.topics.dlq, letter, key=kafka.topics.jobs)
    finally:
        await producer.stop()


async def _replayed(kafka: KafkaConfig) -> list[ev.EvaluationJob]:
    producer = ProtoProducer(kafka, "test")
    await producer.start()
    try:
        found = await consume_all(kafka, kafka.topics.jobs, "r", ev.EvaluationJob, producer, 1)
    finally:
        await producer.stop()
    assert [(d.key, d.headers[TYPE_HEADER]) for d in found] == [("c", "kiseki.v1.EvaluationJob")]
    return [d.message for d in found]


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
def test_list_then_replay_what_matches(
    kafka_config: KafkaConfig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KISEKI_KAFKA_BOOTSTRAP", kafka_config.bootstrap_servers)
    monkeypatch.setenv("KISEKI_TOPIC_PREFIX", kafka_config.topic_prefix)
    asyncio.run(_dead_letters(kafka_config))

    assert main(["dlq", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [entry["error"] for entry in listed] == [
        "RuntimeError: tokenizer blew up",
        "not a valid job",
    ]
    assert main(["dlq", "replay", "--match", "tokenizer"]) == 0
    assert "replayed 1 record(s)" in capsys.readouterr().out
    assert asyncio.run(_replayed(kafka_config)) == [JOB]


def test_missing_kafka_settings_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KISEKI_KAFKA_BOOTSTRAP", raising=False)
    assert main(["dlq", "list"]) == 2
    assert "KISEKI_KAFKA_BOOTSTRAP is required" in capsys.readouterr().err
