"""A job whose endpoint never answers is reported FAILED with the reason; a malformed job is
dead-lettered; the runner goes on either way."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.core.status import regression_status
from kiseki.local.process import free_port
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit
from kiseki.runner.finished import FinishedCheckpoints
from kiseki.runner.loop import TaskRunner
from kiseki.serving.client import ScoringClient
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all
from support.polling import poll_until_async

CONFIG = RunnerConfig(datasets_dir=Path("unused"), max_attempts=2, first_backoff_s=0.05)


async def never_called(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
    await client.generate(["x"], 1)  # the endpoint is down: this raises
    raise AssertionError("unreachable")


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_unreachable_endpoint_fails_the_job_and_poison_is_dead_lettered(
    kafka_config: KafkaConfig,
) -> None:
    topics = kafka_config.topics
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    job = ev.EvaluationJob(
        job_id="j1",
        checkpoint_id="ck",
        endpoint=f"127.0.0.1:{free_port()}",
        model_name="m",
        dataset="jnli",
        shard_count=1,
    )
    await producer.send(topics.jobs, ev.EvaluationJob(job_id="bad"), key="ck")
    await producer.send(topics.jobs, job, key="ck")
    runner = TaskRunner(kafka_config, CONFIG, never_called)
    context = ServiceContext("runner", Health())
    task = asyncio.create_task(runner.run(context))
    try:
        [result] = await consume_all(kafka_config, topics.results, "r", ev.JobResults, producer, 1)
        summary = result.message.summary
        assert (summary.job_id, summary.failed) == ("j1", True)
        assert "gave up after 2 attempts" in summary.error
        assert job.endpoint in summary.error
        [letter] = await consume_all(kafka_config, topics.dlq, "d", ev.DeadLetter, producer, 1)
        assert "job lacks checkpoint_id, endpoint, model_name, dataset" in letter.message.error
    finally:
        context.stopping.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()


async def the_one_result(kafka_config: KafkaConfig, producer: ProtoProducer) -> str:
    """Run a runner over the jobs sent until one result is out; its job id. Stops both."""
    runner = TaskRunner(kafka_config, CONFIG, never_called)
    context = ServiceContext("runner", Health())
    task = asyncio.create_task(runner.run(context))
    try:
        topic = kafka_config.topics.results
        [result] = await consume_all(kafka_config, topic, "r", ev.JobResults, producer, 1)
        return result.message.summary.job_id
    finally:
        context.stopping.set()
        await asyncio.wait_for(task, 30)
        await producer.stop()


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_job_of_a_finished_checkpoint_is_skipped(kafka_config: KafkaConfig) -> None:
    topics = kafka_config.topics
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    done = ev.CheckpointStatus(checkpoint_id="old", state=ev.CHECKPOINT_STATE_DONE)
    done.changed_at.GetCurrentTime()
    await producer.send(topics.status, done, key="old")
    endpoint = f"127.0.0.1:{free_port()}"
    for checkpoint in ("old", "new"):  # one partition: "old" is handled first
        job = ev.EvaluationJob(
            job_id=f"j-{checkpoint}",
            checkpoint_id=checkpoint,
            endpoint=endpoint,
            model_name="m",
            dataset="jnli",
            shard_count=1,
        )
        await producer.send(topics.jobs, job, key="same")
    # The stale copy was skipped without a result (and without waiting out the retries).
    assert await the_one_result(kafka_config, producer) == "j-new"


async def test_a_backfill_makes_a_finished_checkpoint_unfinished_at_once(
    kafka_config: KafkaConfig,
) -> None:
    """The consumer fetches no further while a record waits in its buffer: a DONE fetched
    before the backfill's DISCOVERED was answered alone, and the backfill's jobs skipped."""
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    finished = FinishedCheckpoints(kafka_config)
    await finished.start()
    consumer = finished._tail._consumer

    async def say(state: int) -> None:
        status = ev.CheckpointStatus(checkpoint_id="c", state=state)  # type: ignore[arg-type]
        status.changed_at.GetCurrentTime()
        await producer.send(kafka_config.topics.status, status, key="c")

    try:
        await say(ev.CHECKPOINT_STATE_DONE)
        # The DONE is fetched into the buffer (the high watermark comes with it).
        await poll_until_async(lambda: _any_fetched(consumer), timeout_s=30, interval_s=0.05)
        await say(ev.CHECKPOINT_STATE_DISCOVERED)
        assert not await finished.finished("c")
    finally:
        await finished.stop()
        await producer.stop()


async def _any_fetched(consumer: AIOKafkaConsumer) -> bool:
    return any(consumer.highwater(partition) for partition in consumer.assignment())


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_copy_sent_before_the_checkpoint_was_deployed_again_is_skipped(
    kafka_config: KafkaConfig,
) -> None:
    """After an orchestrator restart the jobs not done are sent again with the new endpoint;
    the old copies name an endpoint that is gone and would hold the runner in retries."""
    topics = kafka_config.topics
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    ready = ev.CheckpointStatus(checkpoint_id="ck", state=ev.CHECKPOINT_STATE_READY)
    ready.changed_at.GetCurrentTime()
    await producer.send(topics.status, ready, key="ck")
    sent_before_ms = ready.changed_at.ToMilliseconds() - 10_000
    raw = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
    await raw.start()
    endpoint = f"127.0.0.1:{free_port()}"
    try:
        for job_id, sent_ms in (("j-old-copy", sent_before_ms), ("j-current", None)):
            job = ev.EvaluationJob(
                job_id=job_id, checkpoint_id="ck", endpoint=endpoint, model_name="m",
                dataset="jnli", shard_count=1,
            )  # fmt: skip
            await raw.send_and_wait(
                topics.jobs, job.SerializeToString(), key=b"same", timestamp_ms=sent_ms
            )
    finally:
        await raw.stop()
    assert await the_one_result(kafka_config, producer) == "j-current"


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_regression_announced_after_done_leaves_the_checkpoint_finished(
    kafka_config: KafkaConfig,
) -> None:
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    finished = FinishedCheckpoints(kafka_config)
    await finished.start()
    try:
        done = ev.CheckpointStatus(checkpoint_id="c", state=ev.CHECKPOINT_STATE_DONE)
        done.changed_at.GetCurrentTime()
        await producer.send(kafka_config.topics.status, done, key="c")
        drop = regression_status("c", "r", 1, ev.Regression(dataset="jnli", p_value=0.01))
        await producer.send(kafka_config.topics.status, drop, key="c")
        # Read to the end once the DONE is fetched: the announcement after it changes nothing.
        await poll_until_async(lambda: finished.finished("c"), timeout_s=30)
    finally:
        await finished.stop()
        await producer.stop()
