"""One fully populated example of every message that crosses a process boundary."""

from __future__ import annotations

from pathlib import Path

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from kiseki.core.ids import checkpoint_id, prompt_hash
from kiseki.v1 import events_pb2 as ev

AT = Timestamp(seconds=1_790_000_000, nanos=5_000)

DISCOVERED = ev.CheckpointDiscovered(
    checkpoint_id="run-s10-abc",
    run_id="run",
    step=10,
    tokens_seen=40_960,
    uri="/ckpt/run/step_0000010",
    format=ev.CHECKPOINT_FORMAT_HF,
    size_bytes=123_456,
    model_size="tiny",
    metadata={"dtype": "float32"},
    discovered_at=AT,
    tokenizer_uri="/ckpt/run/tokenizer",
)
JOB = ev.EvaluationJob(
    job_id="jnli-0of2-m1-x",
    checkpoint_id="run-s10-abc",
    run_id="run",
    step=10,
    endpoint="127.0.0.1:8001",
    model_name="ck_run_s10",
    dataset="jnli",
    shard_index=0,
    shard_count=2,
    scoring_mode=ev.SCORING_MODE_GENERATE,
    num_few_shots=4,
    max_new_tokens=16,
    suite="nli",
)
SAMPLE = ev.SampleResult(
    job_id=JOB.job_id,
    checkpoint_id="run-s10-abc",
    run_id="run",
    step=10,
    dataset="jnli",
    sample_index=7,
    scoring_mode=ev.SCORING_MODE_LOGLIKELIHOOD,
    prompt="### 入力:\n前提：猫が寝ている。\n### 応答:\n",
    raw_output="entailment\n\nfoo",
    prediction="entailment",
    gold="entailment",
    metrics={"exact_match": 1.0, "char_f1": 1.0},
    format_followed=True,
    latency_ms=12.5,
    choice_logprobs=[-0.5, -2.25, -3.0],
)
SUMMARY = ev.JobSummary(
    job_id=JOB.job_id,
    checkpoint_id="run-s10-abc",
    run_id="run",
    step=10,
    dataset="jnli",
    scoring_mode=ev.SCORING_MODE_GENERATE,
    shard_index=0,
    shard_count=2,
    num_samples=50,
    scores={"exact_match": 0.42},
    duration_s=3.5,
)
STATUS = ev.CheckpointStatus(
    checkpoint_id="run-s10-abc",
    run_id="run",
    step=10,
    state=ev.CHECKPOINT_STATE_FAILED,
    reason="missing shard model-00002-of-00002.safetensors",
    source="orchestrator",
    changed_at=AT,
)
DEAD = ev.DeadLetter(
    topic="kiseki.jobs",
    partition=1,
    offset=99,
    key=b"ck",
    value=b"\xff\x00garbage",
    headers={"kiseki-type": "kiseki.v1.EvaluationJob"},
    error="not a valid kiseki.v1.EvaluationJob",
    consumer_group="task-runner",
    failed_at=AT,
)

PROMPT = ev.PromptText(prompt_hash=prompt_hash(SAMPLE.prompt), text=SAMPLE.prompt)

SAMPLE_MESSAGES: tuple[Message, ...] = (
    DISCOVERED,
    JOB,
    SAMPLE,
    PROMPT,
    SUMMARY,
    ev.JobResults(samples=[SAMPLE, SAMPLE], summary=SUMMARY),
    STATUS,
    DEAD,
)


def discovered(run: str, step: int, path: Path) -> ev.CheckpointDiscovered:
    return ev.CheckpointDiscovered(
        checkpoint_id=checkpoint_id(run, step, str(path)),
        run_id=run,
        step=step,
        uri=str(path),
        format=ev.CHECKPOINT_FORMAT_HF_TRAINER,
    )


def job_results(job: str, samples: int) -> ev.JobResults:
    results = ev.JobResults(
        summary=ev.JobSummary(job_id=job, checkpoint_id="ck", run_id="run", dataset="jnli")
    )
    for index in range(samples):
        results.samples.add(
            job_id=job,
            checkpoint_id="ck",
            run_id="run",
            step=10,
            dataset=job,
            sample_index=index,
            scoring_mode=ev.SCORING_MODE_GENERATE,
            metrics={"exact_match": float(index % 2)},
        )
    return results
