"""A task-runner scores jobs against a real endpoint; its scores equal the evaluation core's
on outputs computed in-process from the same checkpoint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kiseki.core.kafka_config import KafkaConfig
from kiseki.evaluation.datasets import few_shot_examples, load_dataset
from kiseki.evaluation.loglikelihood import choice_scores
from kiseki.evaluation.metrics import score_samples
from kiseki.evaluation.postprocess import normalize, postprocess
from kiseki.evaluation.prompts import build_prompt
from kiseki.runner.config import RunnerConfig
from kiseki.serving.hf_scoring import HFScorer
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_until
from support.runner import DATASETS, running_runner


def _job(dataset: str, mode: int, endpoint: str, shard: int) -> ev.EvaluationJob:
    return ev.EvaluationJob(
        job_id=f"{dataset}-{mode}-{shard}",
        checkpoint_id="ck",
        run_id="run",
        step=60,
        endpoint=endpoint,
        model_name="tiny",
        dataset=dataset,
        shard_index=shard,
        shard_count=2,
        scoring_mode=mode,  # type: ignore[arg-type]
        num_few_shots=2,
    )


def _in_process_scores(checkpoint: Path, dataset_name: str, mode: int) -> dict[str, float]:
    dataset = load_dataset(DATASETS, dataset_name)
    shots = few_shot_examples(DATASETS, dataset_name, 2)
    prompts = [build_prompt(dataset, s, shots) for s in dataset.samples]
    golds = [normalize(s.output) for s in dataset.samples]
    scorer = HFScorer(checkpoint, device="cpu")
    if mode == ev.SCORING_MODE_GENERATE:
        predictions = [postprocess(scorer.generate([p], dataset.output_length)[0]) for p in prompts]
        return score_samples(dataset.metrics, predictions, golds)[1]
    labels = dataset.label_list
    rows = []
    for prompt, gold in zip(prompts, golds, strict=True):
        logprobs = [c.logprob for c in scorer.loglikelihood([(prompt, label) for label in labels])]
        rows.append(choice_scores(logprobs, labels, gold))
    return {name: sum(r[name] for r in rows) / len(rows) for name in ("acc", "acc_norm")}


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_runner_scores_equal_in_process_evaluation(
    kafka_config: KafkaConfig, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    # Small requests: each job's samples stream out in several parts before its summary.
    config = RunnerConfig(datasets_dir=DATASETS, items_per_request=8)
    cases = [("synth_qa", ev.SCORING_MODE_GENERATE), ("synth_nli", ev.SCORING_MODE_LOGLIKELIHOOD)]
    running = running_runner(kafka_config, config, tiny_checkpoints[60], tmp_path)
    async with running as (endpoint, producer):
        for dataset, mode in cases:
            for shard in (0, 1):
                job = _job(dataset, mode, endpoint, shard)
                await producer.send(kafka_config.topics.jobs, job, key="ck")
        results = await consume_until(
            kafka_config,
            kafka_config.topics.results,
            "r",
            ev.JobResults,
            producer,
            lambda got: sum(bool(d.message.summary.job_id) for d in got) == 4,
        )
    for dataset, mode in cases:
        samples = [
            s
            for r in results
            for s in r.message.samples
            if s.dataset == dataset and s.scoring_mode == mode
        ]
        assert sorted(s.sample_index for s in samples) == list(range(40))
        assert not any(r.message.summary.failed for r in results)
        expected = _in_process_scores(tiny_checkpoints[60], dataset, mode)
        for metric, value in expected.items():
            served = sum(s.metrics[metric] for s in samples) / len(samples)
            assert served == pytest.approx(value), (dataset, metric)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_results_larger_than_a_message_arrive_in_chunks_with_the_summary_last(
    kafka_config: KafkaConfig, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    small = dataclasses.replace(kafka_config, max_message_bytes=16 * 1024)
    config = RunnerConfig(datasets_dir=DATASETS)
    async with running_runner(small, config, tiny_checkpoints[60], tmp_path) as (
        endpoint,
        producer,
    ):
        job = _job("synth_nli", ev.SCORING_MODE_LOGLIKELIHOOD, endpoint, 0)
        job.shard_count = 1
        await producer.send(small.topics.jobs, job, key=job.job_id)
        messages = await consume_until(
            small,
            small.topics.results,
            "r",
            ev.JobResults,
            producer,
            lambda got: any(d.message.summary.job_id for d in got),
        )
    assert len(messages) > 1
    assert all(len(d.message.SerializeToString()) <= 16 * 1024 for d in messages)
    assert [bool(d.message.summary.job_id) for d in messages] == [False] * (len(messages) - 1) + [
        True
    ]
    indices = [s.sample_index for d in messages for s in d.message.samples]
    assert indices == list(range(40))
