"""Scoring one job: prompts from the evaluation core, outputs from the endpoint, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from kiseki.evaluation.baselines import format_check
from kiseki.evaluation.datasets import (
    Dataset,
    Sample,
    few_shot_examples,
    load_dataset,
)
from kiseki.evaluation.loglikelihood import choice_requests, choice_scores, dataset_choices
from kiseki.evaluation.metrics import DATASET_LEVEL, dataset_scores, score_samples
from kiseki.evaluation.postprocess import normalize, postprocess
from kiseki.evaluation.prompts import build_prompt
from kiseki.runner.summaries import job_summary
from kiseki.serving.client import ScoringClient
from kiseki.serving.results import Continuation
from kiseki.v1 import events_pb2 as ev

Output = TypeVar("Output")
# Receives finished samples, in order, while the rest of the job is still being scored.
Emit = Callable[[Sequence[ev.SampleResult]], Awaitable[None]]


class DatasetCache:
    """Datasets are read once per runner process, not once per job."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[tuple[str, int], tuple[Dataset, tuple[Sample, ...]]] = {}

    def get(self, name: str, shots: int) -> tuple[Dataset, tuple[Sample, ...]]:
        """The test split and its few-shot examples; a dataset's own `num_few_shots`, when
        its file sets one, wins over the job's count (as in llm-jp-eval)."""
        if (name, shots) not in self._loaded:
            dataset = load_dataset(self.root, name)
            count = shots if dataset.num_few_shots is None else dataset.num_few_shots
            self._loaded[(name, shots)] = (dataset, few_shot_examples(self.root, name, count))
        return self._loaded[(name, shots)]


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
    dataset: Dataset,
    results: list[ev.SampleResult],
    client: ScoringClient,
    emit: Emit,
) -> dict[str, float]:
    started, prefix = time.monotonic(), ReadySamples[str](len(results), 1)
    per_sample_metrics = [name for name in dataset.metrics if name not in DATASET_LEVEL]
    follows_format = format_check(dataset)

    async def scored(start: int, texts: list[str]) -> None:
        ready = prefix.add(start, texts)
        part = results[ready.start : ready.stop]
        raw = [prefix.outputs[i] or "" for i in ready]
        predictions = [postprocess(text) for text in raw]
        per_sample, _ = score_samples(per_sample_metrics, predictions, [r.gold for r in part])
        latency_ms = _amortised_ms(started, ready.stop)
        for result, text, prediction, values in zip(
            part, raw, predictions, per_sample, strict=True
        ):
            result.raw_output, result.prediction, result.latency_ms = text, prediction, latency_ms
            result.metrics.update(values)
            result.format_followed = follows_format(prediction)
        await emit(part)

    await client.generate(
        [r.prompt for r in results], job.max_new_tokens or dataset.output_length, scored
    )
    # Dataset-level metrics (pearson, spearman) need every prediction at once.
    scores = dataset_scores(
        dataset.metrics,
        [r.metrics for r in results],
        [r.prediction for r in results],
        [r.gold for r in results],
    )
    scores["format_following"] = sum(r.format_followed for r in results) / max(1, len(results))
    return scores


async def _loglikelihood(
    dataset: Dataset, results: list[ev.SampleResult], client: ScoringClient, emit: Emit
) -> dict[str, float]:
    labels = dataset_choices(dataset)
    started, prefix = (
        time.monotonic(),
        ReadySamples[Continuation](len(results) * len(labels), len(labels)),
    )

    async def scored(start: int, continuations: list[Continuation]) -> None:
        ready = prefix.add(start, continuations)
        for position in ready:
            result = results[position]
            chosen = prefix.outputs[position * len(labels) : (position + 1) * len(labels)]
            logprobs = [c.logprob for c in chosen if c is not None]
            result.choice_logprobs.extend(logprobs)
            result.prediction = labels[max(range(len(labels)), key=lambda i: logprobs[i])]
            result.metrics.update(choice_scores(logprobs, labels, result.gold))
            result.format_followed = True
            result.latency_ms = _amortised_ms(started, ready.stop)
        await emit(results[ready.start : ready.stop])

    requests = [pair for r in results for pair in choice_requests(r.prompt, labels)]
    await client.loglikelihood(requests, scored)
    return {
        name: sum(r.metrics[name] for r in results) / max(1, len(results))
        for name in ("acc", "acc_norm")
    }


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


async def score_job(
    job: ev.EvaluationJob, client: ScoringClient, cache: DatasetCache, emit: Emit = _keep
) -> ev.JobResults:
    """Every sample of the job's shard, scored; `emit` is handed finished samples in sample
    order while the rest are still being computed. The result holds all samples."""
    started, emit = time.monotonic(), in_order(emit)
    dataset, shots = cache.get(job.dataset, job.num_few_shots)
    results = [
        _sample_result(job, index, build_prompt(dataset, sample, shots), normalize(sample.output))
        for index, sample in enumerate(dataset.samples)
        if index % job.shard_count == job.shard_index
    ]
    if job.scoring_mode == ev.SCORING_MODE_LOGLIKELIHOOD:
        if not dataset.label_list:
            # A suite may ask both modes of every dataset; free-form ones have no choices.
            return ev.JobResults(summary=job_summary(job, started, error="skipped: no label_list"))
        scores = await _loglikelihood(dataset, results, client, emit)
    else:
        scores = await _generate(job, dataset, results, client, emit)
    return ev.JobResults(samples=results, summary=job_summary(job, started, len(results), scores))
