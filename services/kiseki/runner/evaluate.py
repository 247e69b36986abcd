"""Scoring one job: the evaluation pipeline's task, outputs from the endpoint, streamed on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from kiseki import __version__
from kiseki.core.eval_settings import job_settings
from kiseki.core.ids import prompt_hash
from kiseki.evaluation.datasets import Sample
from kiseki.evaluation.pipeline import Scored, Task, load_task
from kiseki.evaluation.settings import EvalSettings
from kiseki.runner.summaries import job_summary
from kiseki.serving.client import ScoringClient
from kiseki.serving.results import Continuation
from kiseki.v1 import events_pb2 as ev

Output = TypeVar("Output")
# Receives finished samples, in order, while the rest of the job is still being scored.
Emit = Callable[[Sequence[ev.SampleResult]], Awaitable[None]]


class TaskCache:
    """Datasets are read once per runner process and settings, not once per job."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[tuple[str, EvalSettings], Task] = {}

    def get(self, name: str, settings: EvalSettings) -> Task:
        if (name, settings) not in self._loaded:
            self._loaded[(name, settings)] = load_task(self.root, name, settings)
        return self._loaded[(name, settings)]


def _sample_result(job: ev.EvaluationJob, index: int, prompt: str, gold: str) -> ev.SampleResult:
    return ev.SampleResult(
        job_id=job.job_id,
        checkpoint_id=job.checkpoint_id,
        run_id=job.run_id,
        step=job.step,
        dataset=job.dataset,
        sample_index=index,
        scoring_mode=job.scoring_mode,
        prompt=prompt,
        prompt_hash=prompt_hash(prompt),
        gold=gold,
    )


class ReadySamples(Generic[Output]):
    """Outputs arrive a request at a time, in any order; samples are handed on in order, each
    as soon as all of its items (one per sample, or one per label) have come back."""

    def __init__(self, items: int, items_per_sample: int) -> None:
        self.outputs: list[Output | None] = [None] * items
        self.per_sample, self.filled, self.handed = items_per_sample, 0, 0

    def add(self, start: int, part: Sequence[Output]) -> range:
        self.outputs[start : start + len(part)] = part
        while self.filled < len(self.outputs) and self.outputs[self.filled] is not None:
            self.filled += 1
        ready = range(self.handed, self.filled // self.per_sample)
        self.handed = ready.stop
        return ready


def _amortised_ms(started: float, samples: int) -> float:
    return (time.monotonic() - started) * 1000 / max(1, samples)


async def _generate(
    job: ev.EvaluationJob,
    task: Task,
    results: list[ev.SampleResult],
    sources: list[str],
    client: ScoringClient,
    emit: Emit,
) -> dict[str, float]:
    started, prefix = time.monotonic(), ReadySamples[str](len(results), 1)
    scored: list[Scored] = []
    # code_exec's programs (seconds each at worst) and COMET's forward passes run off the
    # event loop, which must keep the consumer's 10 s heartbeat; one part at a time.
    one_at_a_time = asyncio.Lock()

    async def arrived(start: int, texts: list[str]) -> None:
        ready = prefix.add(start, texts)
        part = results[ready.start : ready.stop]
        raw = [prefix.outputs[i] or "" for i in ready]
        async with one_at_a_time:
            values = await asyncio.to_thread(
                task.score_generated, raw, [r.gold for r in part], sources[ready.start : ready.stop]
            )
        latency_ms = _amortised_ms(started, ready.stop)
        for result, text, value in zip(part, raw, values, strict=True):
            result.raw_output, result.prediction, result.latency_ms = (
                text,
                value.prediction,
                latency_ms,
            )
            result.metrics.update(value.metrics)
            result.format_followed = value.followed
        scored.extend(values)
        await emit(part)

    await client.generate(
        [r.prompt for r in results], job.max_new_tokens or task.max_new_tokens, arrived
    )
    # Dataset-level metrics (pearson, spearman) need every prediction at once.
    return task.generation_scores(scored, [r.gold for r in results])


def _means(results: Sequence[ev.SampleResult], names: Sequence[str]) -> dict[str, float]:
    """The dataset score of per-sample metrics that average (every one but generation's)."""
    return {name: sum(r.metrics[name] for r in results) / max(1, len(results)) for name in names}


async def _loglikelihood(
    task: Task, results: list[ev.SampleResult], client: ScoringClient, emit: Emit
) -> dict[str, float]:
    width = len(task.choices)
    started, prefix = (
        time.monotonic(),
        ReadySamples[Continuation](len(results) * width, width),
    )

    async def arrived(start: int, continuations: list[Continuation]) -> None:
        ready = prefix.add(start, continuations)
        for position in ready:
            result = results[position]
            chosen = prefix.outputs[position * width : (position + 1) * width]
            logprobs = [c.logprob for c in chosen if c is not None]
            result.choice_logprobs.extend(logprobs)
            result.prediction, values = task.score_choices(logprobs, result.gold)
            result.metrics.update(values)
            result.format_followed = True
            result.latency_ms = _amortised_ms(started, ready.stop)
        await emit(results[ready.start : ready.stop])

    requests = [pair for r in results for pair in task.choice_requests(r.prompt)]
    await client.loglikelihood(requests, arrived)
    return _means(results, ("acc", "acc_norm"))


async def _gold(
    task: Task,
    results: list[ev.SampleResult],
    samples: list[Sample],
    client: ScoringClient,
    emit: Emit,
) -> dict[str, float]:
    """The gold answer's log-prob under each prompt: one continuation a sample."""
    started, prefix = time.monotonic(), ReadySamples[Continuation](len(results), 1)

    async def arrived(start: int, continuations: list[Continuation]) -> None:
        ready = prefix.add(start, continuations)
        for position in ready:
            result, scored = results[position], prefix.outputs[position]
            assert scored is not None
            result.metrics.update(task.score_gold(scored.logprob, samples[position]))
            result.prediction, result.format_followed = samples[position].output, True
            result.latency_ms = _amortised_ms(started, ready.stop)
        await emit(results[ready.start : ready.stop])

    requests = [task.gold_request(r.prompt, s) for r, s in zip(results, samples, strict=True)]
    await client.loglikelihood(requests, arrived)
    return _means(results, ("gold_logprob", "bits_per_byte", "byte_likelihood"))


def in_order(emit: Emit) -> Emit:
    """Requests return concurrently and an emit may await (publishing several messages): one
    emit at a time, in the order the ranges were taken, or a later range's messages would
    overtake an earlier one's."""
    turn = asyncio.Lock()  # FIFO: waiters get it in the order they asked

    async def ordered(samples: Sequence[ev.SampleResult]) -> None:
        async with turn:
            await emit(samples)

    return ordered


async def _keep(samples: Sequence[ev.SampleResult]) -> None:
    """Without a consumer for early samples, they all travel with the summary."""


def _shard(job: ev.EvaluationJob, task: Task) -> list[tuple[int, Sample]]:
    return [
        (index, sample)
        for index, sample in enumerate(task.samples)
        if index % job.shard_count == job.shard_index
    ]


def _provenance(job: ev.EvaluationJob, task: Task) -> dict[str, str]:
    return {
        "settings_digest": task.settings.digest(),
        "prompt_digest": task.prompt_digest(),
        "kiseki_version": __version__,
        "serving_backend": job.serving_backend,
        "dtype": job.dtype,
    }


async def score_job(
    job: ev.EvaluationJob, client: ScoringClient, cache: TaskCache, emit: Emit = _keep
) -> ev.JobResults:
    """Every sample of the job's shard, scored; `emit` is handed finished samples in sample
    order while the rest are still being computed. The result holds all samples."""
    started, emit = time.monotonic(), in_order(emit)
    task = cache.get(job.dataset, job_settings(job))
    shard = _shard(job, task)
    results = [_sample_result(job, i, task.prompt(s), task.gold(s)) for i, s in shard]
    provenance = _provenance(job, task)
    if job.scoring_mode == ev.SCORING_MODE_LOGLIKELIHOOD:
        if not task.dataset.label_list:
            # A suite may ask both modes of every dataset; free-form ones have no choices.
            summary = job_summary(
                job, started, error="skipped: no label_list", provenance=provenance
            )
            return ev.JobResults(summary=summary)
        scores = await _loglikelihood(task, results, client, emit)
    elif job.scoring_mode == ev.SCORING_MODE_GOLD:
        scores = await _gold(task, results, [s for _, s in shard], client, emit)
    else:
        sources = [s.input for _, s in shard]
        scores = await _generate(job, task, results, sources, client, emit)
    summary = job_summary(job, started, len(results), scores, provenance=provenance)
    return ev.JobResults(samples=results, summary=summary)
