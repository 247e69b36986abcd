"""The gold scoring mode: the gold answer's log-prob under each prompt, from a runner against a
real endpoint, equals the model's own in-process log-likelihood; bits per byte follow."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kiseki.core.kafka_config import KafkaConfig
from kiseki.evaluation.datasets import few_shot_examples, load_dataset
from kiseki.evaluation.loglikelihood import gold_scores
from kiseki.evaluation.prompts import build_prompt
from kiseki.runner.config import RunnerConfig
from kiseki.serving.hf_scoring import HFScorer
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_until
from support.runner import DATASETS, running_runner


def test_bits_per_byte_and_likelihood_per_byte() -> None:
    scores = gold_scores(-math.log(2) * 6, "東京")  # two 3-byte characters, one bit each
    assert scores == {
        "gold_logprob": pytest.approx(-math.log(2) * 6),
        "bits_per_byte": pytest.approx(1.0),
        "byte_likelihood": pytest.approx(0.5),
    }


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_gold_log_probs_equal_the_models_own(
    kafka_config: KafkaConfig, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    config = RunnerConfig(datasets_dir=DATASETS, items_per_request=8)
    async with running_runner(kafka_config, config, tiny_checkpoints[60], tmp_path) as (
        endpoint,
        producer,
    ):
        job = ev.EvaluationJob(
            job_id="gold",
            checkpoint_id="ck",
            run_id="run",
            step=60,
            endpoint=endpoint,
            model_name="tiny",
            dataset="synth_qa",
            shard_index=0,
            shard_count=1,
            scoring_mode=ev.SCORING_MODE_GOLD,
            num_few_shots=2,
        )
        await producer.send(kafka_config.topics.jobs, job, key="gold")
        delivered = await consume_until(
            kafka_config,
            kafka_config.topics.results,
            "r",
            ev.JobResults,
            producer,
            lambda got: any(d.message.summary.job_id for d in got),
        )
    samples = sorted(
        (s for d in delivered for s in d.message.samples), key=lambda s: s.sample_index
    )
    [summary] = [d.message.summary for d in delivered if d.message.summary.job_id]
    dataset = load_dataset(DATASETS, "synth_qa")
    shots = few_shot_examples(DATASETS, "synth_qa", 2)
    pairs = [(build_prompt(dataset, s, shots), s.output) for s in dataset.samples]
    own = HFScorer(tiny_checkpoints[60], device="cpu").loglikelihood(pairs)
    assert len(samples) == len(dataset.samples)
    for sample, (_, gold), mine in zip(samples, pairs, own, strict=True):
        assert sample.metrics["gold_logprob"] == pytest.approx(mine.logprob, abs=1e-4)
        assert sample.metrics["bits_per_byte"] == pytest.approx(
            gold_scores(mine.logprob, gold)["bits_per_byte"], abs=1e-4
        )
    mean = sum(s.metrics["byte_likelihood"] for s in samples) / len(samples)
    assert summary.scores["byte_likelihood"] == pytest.approx(mean)
    assert not summary.failed
