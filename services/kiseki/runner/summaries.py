"""A job's summary: what it was, how it went, how long it took."""

from __future__ import annotations

import time
from collections.abc import Mapping

from kiseki.v1 import events_pb2 as ev


def job_summary(
    job: ev.EvaluationJob,
    started: float,
    samples: int = 0,
    scores: dict[str, float] | None = None,
    error: str = "",
    failed: bool = False,
    provenance: Mapping[str, str] | None = None,
) -> ev.JobSummary:
    """`started` is a time.monotonic() reading; `error` is the reason, or a note if not failed;
    `provenance` names what produced the scores (JobSummary's settings_digest and after)."""
    return ev.JobSummary(
        job_id=job.job_id,
        checkpoint_id=job.checkpoint_id,
        run_id=job.run_id,
        step=job.step,
        dataset=job.dataset,
        scoring_mode=job.scoring_mode,
        shard_index=job.shard_index,
        shard_count=job.shard_count,
        num_samples=samples,
        scores=scores or {},
        failed=failed,
        error=error[:2000],
        duration_s=time.monotonic() - started,
        **(provenance or {}),
    )
