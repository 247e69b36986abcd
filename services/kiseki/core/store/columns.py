"""Sample results as the columns of one insert, built field by field from the messages.

The sink's hot path: a dict per row (rows.sample_row) built ~110k rows/s, a column per field
~1M/s on the same 100k SampleResult messages. Map and repeated fields go as the messages'
own containers, which the Native encoder reads like a dict and a list (copying them into
one was the slowest part: 290k rows/s for the metrics alone). A message holds one job's
samples, so the job's own fields are read once a message (every field read from a message
makes a Python object). Same values as sample_row, except that a row holds its prompt's hash
and the prompts not yet known come back beside.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from kiseki.core.store.prompts import KnownPrompts, split_prompts
from kiseki.v1 import events_pb2 as ev

_MODES = {
    number: ev.ScoringMode.Name(number).removeprefix("SCORING_MODE_").lower()
    for number in ev.ScoringMode.values()
}
SAMPLE_COLUMNS = (
    "run_id", "checkpoint_id", "step", "dataset", "sample_index", "scoring_mode", "job_id",
    "prompt_hash", "raw_output", "prediction", "gold", "metrics", "format_followed",
    "latency_ms", "choice_logprobs",
)  # fmt: skip


def _job_columns(samples: Sequence[ev.SampleResult], job_ids: list[str]) -> dict[str, list[Any]]:
    """Run, checkpoint, step, dataset and mode: the fields a job id is derived from
    (ids.job_id), so read from the first sample when every sample names the same job."""
    count = len(samples)
    if count and job_ids.count(job_ids[0]) == count:
        first = samples[0]
        return {
            "run_id": [first.run_id] * count,
            "checkpoint_id": [first.checkpoint_id] * count,
            "step": [first.step] * count,
            "dataset": [first.dataset] * count,
            "scoring_mode": [_MODES[first.scoring_mode]] * count,
        }
    return {
        "run_id": [s.run_id for s in samples],
        "checkpoint_id": [s.checkpoint_id for s in samples],
        "step": [s.step for s in samples],
        "dataset": [s.dataset for s in samples],
        "scoring_mode": [_MODES[s.scoring_mode] for s in samples],
    }


def sample_columns(
    messages: Sequence[Sequence[ev.SampleResult]], known: KnownPrompts
) -> tuple[dict[str, list[Any]], dict[bytes, str]]:
    """The sample_results columns of the messages' samples in order, and the texts of the
    prompts `known` lacks."""
    columns: dict[str, list[Any]] = {name: [] for name in SAMPLE_COLUMNS}
    prompts: dict[bytes, str] = {}
    for samples in messages:
        job_ids = [s.job_id for s in samples]
        part = {
            **_job_columns(samples, job_ids),
            "job_id": job_ids,
            "sample_index": [s.sample_index for s in samples],
            "prompt_hash": split_prompts(samples, known, prompts),
            "raw_output": [s.raw_output for s in samples],
            "prediction": [s.prediction for s in samples],
            "gold": [s.gold for s in samples],
            "metrics": [s.metrics for s in samples],
            "format_followed": [int(s.format_followed) for s in samples],
            "latency_ms": [s.latency_ms for s in samples],
            "choice_logprobs": [s.choice_logprobs for s in samples],
        }
        for name, values in part.items():
            columns[name].extend(values)
    return columns, prompts


def row_chunks(
    messages: Sequence[Sequence[ev.SampleResult]], size: int
) -> Iterator[tuple[int, list[Sequence[ev.SampleResult]]]]:
    """The messages' samples in chunks of `size` rows (the last one shorter), each with the
    position of its first row: the same chunks again for the same messages."""
    chunk: list[Sequence[ev.SampleResult]] = []
    first = rows = 0
    for samples in messages:
        start = 0
        while start < len(samples):
            taken = samples[start : start + size - rows]
            chunk.append(taken)
            rows, start = rows + len(taken), start + len(taken)
            if rows == size:
                yield first, chunk
                chunk, first, rows = [], first + rows, 0
    if chunk:
        yield first, chunk
