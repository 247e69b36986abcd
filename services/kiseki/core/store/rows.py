"""Rows of the store's tables built from the messages that carry them."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from kiseki.core.scoring_modes import scoring_mode_name
from kiseki.core.store.base import Row
from kiseki.v1 import events_pb2 as ev


def _when(timestamp: Timestamp) -> str:
    return timestamp.ToDatetime().isoformat(sep=" ", timespec="milliseconds")


def status_row(status: ev.CheckpointStatus) -> Row:
    return {
        "checkpoint_id": status.checkpoint_id,
        "run_id": status.run_id,
        "step": status.step,
        "state": ev.CheckpointState.Name(status.state).removeprefix("CHECKPOINT_STATE_"),
        "reason": status.reason,
        "source": status.source,
        "changed_at": _when(status.changed_at),
    }


def checkpoint_rows(discovered: ev.CheckpointDiscovered) -> tuple[Row, Row]:
    """The checkpoint itself, and its run (tags come from the run's configuration)."""
    checkpoint = {
        "checkpoint_id": discovered.checkpoint_id,
        "run_id": discovered.run_id,
        "step": discovered.step,
        "tokens_seen": discovered.tokens_seen,
        "uri": discovered.uri,
        "format": ev.CheckpointFormat.Name(discovered.format).removeprefix("CHECKPOINT_FORMAT_"),
        "size_bytes": discovered.size_bytes,
        "model_size": discovered.model_size,
        "metadata": dict(discovered.metadata),
        "discovered_at": _when(discovered.discovered_at),
    }
    run: Row = {"run_id": discovered.run_id, "model_size": discovered.model_size, "tags": {}}
    return checkpoint, run


def sample_row(sample: ev.SampleResult) -> Row:
    return {
        "run_id": sample.run_id,
        "checkpoint_id": sample.checkpoint_id,
        "step": sample.step,
        "dataset": sample.dataset,
        "sample_index": sample.sample_index,
        "scoring_mode": scoring_mode_name(sample.scoring_mode),
        "job_id": sample.job_id,
        "prompt": sample.prompt,
        "raw_output": sample.raw_output,
        "prediction": sample.prediction,
        "gold": sample.gold,
        "metrics": dict(sample.metrics),
        "format_followed": int(sample.format_followed),
        "latency_ms": sample.latency_ms,
        "choice_logprobs": list(sample.choice_logprobs),
    }


def summary_row(summary: ev.JobSummary) -> Row:
    return {
        "job_id": summary.job_id,
        "run_id": summary.run_id,
        "checkpoint_id": summary.checkpoint_id,
        "step": summary.step,
        "dataset": summary.dataset,
        "scoring_mode": scoring_mode_name(summary.scoring_mode),
        "shard_index": summary.shard_index,
        "shard_count": summary.shard_count,
        "num_samples": summary.num_samples,
        "scores": dict(summary.scores),
        "failed": int(summary.failed),
        "error": summary.error,
        "duration_s": summary.duration_s,
        "settings_digest": summary.settings_digest,
        "prompt_digest": summary.prompt_digest,
        "kiseki_version": summary.kiseki_version,
        "serving_backend": summary.serving_backend,
        "dtype": summary.dtype,
    }
