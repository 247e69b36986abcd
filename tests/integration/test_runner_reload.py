"""A job whose endpoint is up but still loading its model waits for the model instead of
spending its tries (a vLLM model process reloads for 20-70 s, longer than the tries' backoff),
on a real tritonserver loading kiseki's model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.grpc.aio as triton_aio

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.local.triton import LocalTriton, start_triton
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit
from kiseki.runner.loop import TaskRunner
from kiseki.serving.client import ScoringClient
from kiseki.serving.repository import ServingOptions, write_model
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_all

# Two quick tries: without waiting on the endpoint's state they are spent while it loads.
CONFIG = RunnerConfig(
    datasets_dir=Path("unused"), max_attempts=2, first_backoff_s=0.05, endpoint_wait_s=120.0
)


@pytest.fixture
def triton(tmp_path: Path, service_logs: Path) -> Iterator[LocalTriton]:
    server = start_triton(service_logs / "runner-reload-triton", tmp_path / "repository")
    yield server
    server.stop()


async def generate_once(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
    assert len(await client.generate(["吾輩は"], 2)) == 1
    summary = ev.JobSummary(job_id=job.job_id, checkpoint_id=job.checkpoint_id, num_samples=1)
    return ev.JobResults(summary=summary)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_job_waits_for_its_model_to_load_instead_of_failing(
    kafka_config: KafkaConfig, triton: LocalTriton, tiny_checkpoints: dict[int, Path]
) -> None:
    write_model(triton.model_repository, "loading", tiny_checkpoints[0], ServingOptions())
    async with triton_aio.InferenceServerClient(triton.grpc_address) as client:
        load = asyncio.create_task(client.load_model("loading"))  # seconds: torch, the model
        topics = kafka_config.topics
        producer = ProtoProducer(kafka_config, "test")
        await producer.start()
        job = ev.EvaluationJob(
            job_id="j1",
            checkpoint_id="ck",
            endpoint=triton.grpc_address,
            model_name="loading",
            dataset="jnli",
            shard_count=1,
        )
        await producer.send(topics.jobs, job, key="ck")
        runner = TaskRunner(kafka_config, CONFIG, generate_once)
        context = ServiceContext("runner", Health())
        task = asyncio.create_task(runner.run(context))
        try:
            [result] = await consume_all(
                kafka_config, topics.results, "r", ev.JobResults, producer, 1
            )
            summary = result.message.summary
            assert (summary.job_id, summary.failed) == ("j1", False), summary.error
        finally:
            context.stopping.set()
            await asyncio.wait_for(task, 30)
            await producer.stop()
            await load
