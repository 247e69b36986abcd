"""`python -m kiseki.runner`: a task-runner; start more of them to go faster."""

from __future__ import annotations

from kiseki.core.config import load_config
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig, ServiceContext, run_service
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit, TaskCache, score_job
from kiseki.runner.loop import TaskRunner
from kiseki.runner.plugins import install_plugins
from kiseki.sandbox.config import SandboxConfig
from kiseki.serving.client import ScoringClient
from kiseki.v1 import events_pb2 as ev


def main() -> None:
    service, kafka, config = (
        load_config(ServiceConfig),
        load_config(KafkaConfig),
        load_config(RunnerConfig),
    )
    sandbox = load_config(SandboxConfig)
    cache = TaskCache(config.datasets_dir)

    async def score(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
        return await score_job(job, client, cache, emit)

    async def serve(context: ServiceContext) -> None:
        install_plugins(config, sandbox)  # after logging is set up: it reports what is missing
        await TaskRunner(kafka, config, score).run(context)

    run_service("runner", service, serve)


if __name__ == "__main__":
    main()
