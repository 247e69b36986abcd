"""A task-runner on its own asyncio task against a real endpoint, for runner tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit, TaskCache, score_job
from kiseki.runner.loop import TaskRunner
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import LocalEndpointManager
from kiseki.v1 import events_pb2 as ev

DATASETS = Path(__file__).resolve().parents[2] / "datasets" / "synthetic"


@contextlib.asynccontextmanager
async def running_job_runner(
    kafka: KafkaConfig, config: RunnerConfig, datasets: Path = DATASETS
) -> AsyncIterator[ProtoProducer]:
    """A task-runner on its own task, and a producer for its jobs; stops both."""
    producer = ProtoProducer(kafka, "test")
    await producer.start()
    cache = TaskCache(datasets)

    async def score(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
        return await score_job(job, client, cache, emit)

    context = ServiceContext("runner", Health())
    task = asyncio.create_task(TaskRunner(kafka, config, score).run(context))
    try:
        yield producer
    finally:
        context.stopping.set()
        await asyncio.wait_for(task, 60)
        await producer.stop()


@contextlib.asynccontextmanager
async def running_runner(
    kafka: KafkaConfig,
    config: RunnerConfig,
    checkpoint: Path,
    workdir: Path,
    datasets: Path = DATASETS,
) -> AsyncIterator[tuple[str, ProtoProducer]]:
    """A task-runner on its own task, a real endpoint serving `checkpoint`, and a producer;
    yields the endpoint's address and the producer, and stops all three."""
    manager = LocalEndpointManager(workdir / "endpoints")
    endpoint = await manager.load("tiny", checkpoint)
    try:
        async with running_job_runner(kafka, config, datasets) as producer:
            yield endpoint.address, producer
    finally:
        await manager.stop()
