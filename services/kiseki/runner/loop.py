"""The task-runner's loop: take a job, score it against its endpoint, publish, then commit.

Samples are published as their requests return, the summary last, all before the job's
offset is committed: a runner killed mid-job leaves the job to another runner, which
publishes it again whole (at-least-once; the store keeps one row per sample).
An endpoint that stays unavailable makes the job FAILED with the reason, after retries; while
the endpoint is up but reloading the job's model, the job waits for it (up to
KISEKI_RUNNER_ENDPOINT_WAIT_S) instead of spending its tries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka.errors import KafkaError
from tritonclient.utils import InferenceServerException

from kiseki.core.kafka import Delivery, ProtoProducer, TransientError
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.core.service import ServiceContext
from kiseki.core.startup import reach_broker
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.runner.chunks import split_results
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit
from kiseki.runner.finished import FinishedCheckpoints
from kiseki.runner.prompts import PromptsOut, texts_header
from kiseki.runner.summaries import job_summary
from kiseki.serving.client import ScoringClient
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
# Triton's error while a model's Python process is dead (the endpoint replaces it) and the
# poll between readiness checks while a model reloads.
RELOADING, RELOAD_POLL_S = "not healthy", 1.0
JobScorer = Callable[[ev.EvaluationJob, ScoringClient, Emit], Awaitable[ev.JobResults]]


def validate_job(job: ev.EvaluationJob) -> None:
    missing = [
        f
        for f in ("job_id", "checkpoint_id", "endpoint", "model_name", "dataset")
        if not getattr(job, f)
    ]
    if missing:
        raise ValueError(f"job lacks {', '.join(missing)}")
    if job.shard_count < 1 or not 0 <= job.shard_index < job.shard_count:
        raise ValueError(f"bad shard {job.shard_index}/{job.shard_count}")


def failed_results(job: ev.EvaluationJob, error: str, started: float) -> ev.JobResults:
    return ev.JobResults(summary=job_summary(job, started, error=error, failed=True))


class TaskRunner:
    def __init__(self, kafka: KafkaConfig, config: RunnerConfig, score: JobScorer) -> None:
        self.kafka, self.config, self.score = kafka, config, score
        self._producer = ProtoProducer(kafka, "kiseki-runner")
        self.finished = FinishedCheckpoints(kafka)
        self._prompts = PromptsOut(
            self._producer, kafka.topics.prompts, kafka.max_message_bytes, config.sent_prompts
        )

    async def _publish(self, job: ev.EvaluationJob, results: ev.JobResults) -> None:
        """The prompts' texts first (PromptsOut), then the results naming them by hash."""
        outgoing = ev.JobResults(samples=await self._prompts.publish(results.samples))
        outgoing.summary.CopyFrom(results.summary)
        for message in split_results(outgoing, self.kafka.max_message_bytes):
            await self._producer.send(
                self.kafka.topics.results,
                message,
                key=job.checkpoint_id,
                headers=texts_header(message),
            )

    async def _attempt(self, job: ev.EvaluationJob, client: ScoringClient) -> ev.JobResults:
        """Publishes samples as they are scored, then returns the summary with the rest."""
        published = 0

        async def emit(samples: Sequence[ev.SampleResult]) -> None:
            nonlocal published
            if samples:
                await self._publish(job, ev.JobResults(samples=samples))
                published += len(samples)

        results = await self.score(job, client, emit)
        return ev.JobResults(samples=results.samples[published:], summary=results.summary)

    def _client(self, job: ev.EvaluationJob) -> ScoringClient:
        config = self.config
        return ScoringClient(
            job.endpoint,
            job.model_name,
            config.items_per_request,
            config.max_in_flight,
            config.request_timeout_s,
            expect=job.served_checkpoint,
        )

    async def _attempts(self, job: ev.EvaluationJob, published_ms: int) -> ev.JobResults | None:
        """Tries the job; a try while the endpoint reloads its model does not count (up to
        endpoint_wait_s), since a reload outlasts the tries' backoff."""
        started, backoff, reason = time.monotonic(), self.config.first_backoff_s, ""
        deadline, attempt = started + self.config.endpoint_wait_s, 0
        while attempt < self.config.max_attempts:
            client = self._client(job)
            try:
                try:
                    return await self._attempt(job, client)
                # A bad dataset, job or settings, or a metric that cannot run here: retrying
                # cannot help.
                except (ValueError, KeyError, MetricUnavailable) as error:
                    return failed_results(job, f"{type(error).__name__}: {error}", started)
                except InferenceServerException as error:
                    reason = f"endpoint {job.endpoint} model {job.model_name}: {error.message()}"
                    log.warning(
                        "job attempt failed",
                        extra={"job_id": job.job_id, "attempt": attempt + 1, "error": reason},
                    )
                reloaded = await self._outwait_reload(client, reason, deadline)
            finally:
                await client.close()
            if await self.finished.stale(job.checkpoint_id, published_ms):
                return None  # finished or deployed again meanwhile: a newer copy exists
            if reloaded:
                continue
            attempt += 1
            if attempt < self.config.max_attempts:
                await asyncio.sleep(backoff)
                backoff *= 2
        return failed_results(
            job, f"gave up after {self.config.max_attempts} attempts: {reason}", started
        )

    async def _outwait_reload(self, client: ScoringClient, reason: str, deadline: float) -> bool:
        """Whether the endpoint was reloading the model (its server live; the model not ready,
        or its process dead and being replaced) and has it ready again before `deadline`."""
        try:
            if time.monotonic() >= deadline or not await client.server_live():
                return False
            if RELOADING not in reason and await client.ready():
                return False  # ready, and still it failed: a try spent
            while time.monotonic() < deadline:
                await asyncio.sleep(RELOAD_POLL_S)
                if await client.ready():
                    return True
        except InferenceServerException:
            return False  # the server went away: the tries decide
        return False

    async def handle(self, delivery: Delivery[ev.EvaluationJob]) -> None:
        job = delivery.message
        results = None
        if not await self.finished.stale(job.checkpoint_id, delivery.timestamp_ms):
            log.info(
                "job started", extra={"job_id": job.job_id, "checkpoint_id": job.checkpoint_id}
            )
            results = await self._attempts(job, delivery.timestamp_ms)
        if results is None:
            log.info("skipped a stale copy of a job", extra={"job_id": job.job_id})
            return
        await self._publish(job, results)
        log.info(
            "job done",
            extra={
                "job_id": job.job_id,
                "samples": results.summary.num_samples,
                "failed": results.summary.failed,
            },
        )

    async def run(self, context: ServiceContext) -> None:
        await reach_broker(context, self.kafka)
        await self._producer.start()
        await self.finished.start()
        consumer = ProtoConsumer(
            self.kafka,
            {self.kafka.topics.jobs: ev.EvaluationJob},
            self.config.group_id,
            self._producer,
            validate_job,
            max_handling_s=self.config.max_job_s,
        )
        await consumer.start()
        try:
            while not context.stopping.is_set():
                try:
                    await consumer.poll(self.handle, timeout_ms=500, max_records=1)
                    # Ready once in the group: jobs published before then would wait for it.
                    context.health.set_ready(consumer.joined)
                except (TransientError, KafkaError) as error:  # the job is retried
                    log.warning("broker unavailable; retrying", extra={"error": str(error)})
                    await asyncio.sleep(1.0)
        finally:
            await consumer.stop()
            await self.finished.stop()
            await self._producer.stop()
