"""llm-jp-eval's settings as a team writes them in the policy reach the stored rows: the dev
split, the first N samples, the few-shot count, v1.4 extraction on one dataset and a v2 answer
pattern on another; and live scoring equals offline scoring of the same raw outputs."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store import apply_schema, open_store
from kiseki.core.store.prompts import insert_sample_rows
from kiseki.core.store.rows import sample_row, summary_row
from kiseki.evaluation.datasets import load_dataset
from kiseki.evaluation.offline import score_offline
from kiseki.evaluation.pipeline import Task, score_recorded
from kiseki.orchestrator.planner import plan_jobs
from kiseki.orchestrator.policy import parse_policies
from kiseki.runner.config import RunnerConfig
from kiseki.serving.endpoints import Endpoint
from kiseki.v1 import events_pb2 as ev
from support.kafka import consume_until, prompt_records
from support.messages import discovered
from support.runner import DATASETS, running_runner

FIRST_LINE = r"(?s)^(.*?)(?=\n|\Z)"
POLICY = {
    "runs": {
        "*": {
            "suites": ["synth_qa", "synth_arith"],
            "data_type": "dev",
            "max_num_samples": 5,
            "num_few_shots": 2,
            "datasets": {
                "synth_qa": {
                    "postprocess": "llm-jp-eval-1.4",
                    "answer_extract_pattern": FIRST_LINE,
                },
                "synth_arith": {
                    "postprocess": "v2",
                    "answer_pattern_id": "custom",
                    "answer_extract_pattern": r"(\d+)",
                },
            },
        }
    }
}


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _expected_prediction(dataset: str, raw: str) -> str:
    """llm-jp-eval's rules, written out: v1.4 takes the pattern's first group, NFKC; v2's
    custom pattern the same, stripped; no match gives the empty answer."""
    pattern = FIRST_LINE if dataset == "synth_qa" else r"(\d+)"
    match = re.search(pattern, raw)
    answer = "" if match is None else match.group(1)
    return _nfkc(answer) if dataset == "synth_qa" else _nfkc(answer.strip())


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_policy_settings_reach_the_stored_rows_and_equal_offline_scoring(
    kafka_config: KafkaConfig, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    policy = parse_policies(POLICY).for_run("run")
    assert policy is not None
    config = RunnerConfig(datasets_dir=DATASETS)
    async with running_runner(kafka_config, config, tiny_checkpoints[60], tmp_path) as (
        address,
        producer,
    ):
        checkpoint = discovered("run", 60, tiny_checkpoints[60])
        jobs = plan_jobs(checkpoint, policy, Endpoint(address, "tiny"))
        for job in jobs:
            await producer.send(kafka_config.topics.jobs, job, key=job.job_id)
        delivered = await consume_until(
            kafka_config,
            kafka_config.topics.results,
            "r",
            ev.JobResults,
            producer,
            lambda got: sum(bool(d.message.summary.job_id) for d in got) == len(jobs),
        )
        texts = {p.prompt_hash: p.text for p in await prompt_records(kafka_config)}
    results = [d.message for d in delivered]
    for sample in (s for r in results for s in r.samples if not s.prompt):
        sample.prompt = texts[sample.prompt_hash]  # sent once, on the prompts topic
    store = open_store(f"chdb:{tmp_path / 'store'}")
    apply_schema(store)
    insert_sample_rows(store, [sample_row(s) for r in results for s in r.samples])
    store.insert_rows(
        "job_summaries", [summary_row(r.summary) for r in results if r.summary.job_id]
    )
    settings_of = {name: policy.settings_for(name) for name in ("synth_qa", "synth_arith")}
    for name, settings in settings_of.items():
        rows = store.query(
            "SELECT sample_index, prompt, raw_output, prediction, metrics, format_followed"
            " FROM samples"
            " WHERE dataset = {d:String} ORDER BY sample_index",
            {"d": name},
        )
        dev = json.loads((DATASETS / "dev" / f"{name}.json").read_text(encoding="utf-8"))
        assert [r["sample_index"] for r in rows] == list(range(5))  # the dev file holds 8
        assert all(row["prompt"].count("### 入力:") == 3 for row in rows)  # 2 shots + the query
        assert [_input_of(row["prompt"]) for row in rows] == [
            sample["input"] for sample in dev["samples"][:5]
        ]
        assert [r["prediction"] for r in rows] == [
            _expected_prediction(name, r["raw_output"]) for r in rows
        ]
        summary = store.query(
            "SELECT scores, settings_digest FROM job_summaries FINAL WHERE dataset = {d:String}",
            {"d": name},
        )[0]
        assert summary["settings_digest"] == settings.digest()
        offline = score_offline(
            DATASETS,
            {name: {r["sample_index"]: r["raw_output"] for r in rows}},
            settings_of.__getitem__,
        )
        assert offline["datasets"] == {name: pytest.approx(dict(summary["scores"]))}
        task = Task(load_dataset(DATASETS, name, "dev"), settings, ())
        scored, _ = score_recorded(task, [r["raw_output"] for r in rows])
        assert [(s.prediction, s.metrics, int(s.followed)) for s in scored] == [
            (r["prediction"], dict(r["metrics"]), r["format_followed"]) for r in rows
        ]
    store.close()


def _input_of(prompt: str) -> str:
    return prompt.rsplit("### 入力:\n", 1)[1].split("\n\n### 応答:", 1)[0]
