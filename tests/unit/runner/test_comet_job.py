"""A generation job on a tiny MT dataset (tests/fixtures/mt_tiny) with comet_wmt22: the
installed scorer is given each sample's source, and its scores are the samples' metrics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.metrics.comet import install_comet_scorer
from kiseki.runner.evaluate import TaskCache, score_job
from kiseki.v1 import events_pb2 as ev
from support.endpoint import RecordedEndpoint

DATASETS = Path(__file__).resolve().parents[2] / "fixtures" / "mt_tiny"
TRANSLATIONS = {"The cat sat.": "猫が座った。", "A dog runs.": "犬は走る。", "It rains.": "晴れ。"}


def _translate(prompt: str) -> str:
    """The translation of the source the prompt ends with."""
    return next(t for s, t in TRANSLATIONS.items() if s in prompt[-40:])


class RecordingScorer:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str], list[str]]] = []

    def __call__(
        self, sources: Sequence[str], predictions: Sequence[str], golds: Sequence[str]
    ) -> list[float]:
        self.calls.append((list(sources), list(predictions), list(golds)))
        return [0.9 if p == g else 0.25 for p, g in zip(predictions, golds, strict=True)]


def _job() -> ev.EvaluationJob:
    return ev.EvaluationJob(
        job_id="mt",
        checkpoint_id="ck",
        endpoint="127.0.0.1:1",
        model_name="recorded",
        dataset="mt_tiny",
        shard_count=1,
        scoring_mode=ev.SCORING_MODE_GENERATE,
        num_few_shots=1,
    )


@pytest.fixture
def scorer() -> Iterator[RecordingScorer]:
    recording = RecordingScorer()
    install_comet_scorer(recording)
    yield recording
    install_comet_scorer(None)


async def test_the_scorer_gets_the_sources_and_its_scores_are_the_samples_metrics(
    scorer: RecordingScorer,
) -> None:
    client = RecordedEndpoint(_translate)
    try:
        results = await score_job(_job(), client, TaskCache(DATASETS))
    finally:
        await client.close()
    golds = ["猫が座った。", "犬が走る。", "雨が降る。"]
    assert scorer.calls == [(list(TRANSLATIONS), list(TRANSLATIONS.values()), golds)]
    assert [dict(s.metrics) for s in results.samples] == [
        {"comet_wmt22": 0.9},
        {"comet_wmt22": 0.25},
        {"comet_wmt22": 0.25},
    ]
    assert results.summary.scores["comet_wmt22"] == pytest.approx(1.4 / 3)


async def test_without_a_scorer_the_job_fails_at_its_start_saying_why() -> None:
    client = RecordedEndpoint(_translate)
    try:
        with pytest.raises(MetricUnavailable, match=r"wmt22-comet-da.*KISEKI_COMET_MODEL_DIR"):
            await score_job(_job(), client, TaskCache(DATASETS))
    finally:
        await client.close()
    assert client.prompts == []  # nothing was generated
