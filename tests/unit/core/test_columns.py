"""The sink's columns from SampleResult messages: the same values as a row per sample."""

from __future__ import annotations

from kiseki.core.ids import prompt_hash
from kiseki.core.store.columns import SAMPLE_COLUMNS, sample_columns
from kiseki.core.store.prompts import KnownPrompts, hash_key
from kiseki.core.store.rows import sample_row
from kiseki.v1 import events_pb2 as ev


def _sample(job: str, checkpoint: str, index: int) -> ev.SampleResult:
    return ev.SampleResult(
        job_id=job, run_id=f"run-{job}", checkpoint_id=checkpoint, step=len(checkpoint),
        dataset=job,
        sample_index=index, scoring_mode=ev.SCORING_MODE_LOGLIKELIHOOD, prompt=f"p{index}",
        raw_output="out", metrics={"acc": 1.0}, choice_logprobs=[-1.0],
    )  # fmt: skip


def _rows(columns: dict[str, list[object]]) -> list[dict[str, object]]:
    count = len(columns["job_id"])
    return [{name: columns[name][i] for name in SAMPLE_COLUMNS} for i in range(count)]


def _expected(samples: list[ev.SampleResult]) -> list[dict[str, object]]:
    rows = []
    for sample in samples:
        row = dict(sample_row(sample))
        row["prompt_hash"] = hash_key(prompt_hash(str(row.pop("prompt"))))
        rows.append(row)
    return rows


def test_a_message_of_one_job_and_one_of_several_give_every_rows_own_fields() -> None:
    one_job = [_sample("a", "ck-1", i) for i in range(3)]
    mixed = [_sample("a", "ck-1", 0), _sample("b", "ck-20", 1)]
    columns, prompts = sample_columns([one_job, mixed], KnownPrompts(10))
    got = _rows(columns)
    for row in got:
        row["metrics"] = dict(row["metrics"])  # type: ignore[call-overload]
        row["choice_logprobs"] = list(row["choice_logprobs"])  # type: ignore[call-overload]
    assert got == _expected(one_job + mixed)
    assert sorted(prompts.values()) == ["p0", "p1", "p2"]
