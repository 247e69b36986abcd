"""Evaluation settings on the wire: the orchestrator resolves them into each job, the runner
reads them back; one conversion each way."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from kiseki.evaluation.settings import KEYS, EvalSettings
from kiseki.v1 import events_pb2 as ev


@functools.cache
def _wire_fields(settings: EvalSettings) -> tuple[tuple[str, Any], ...]:
    """Settings are frozen and few per policy; `asdict` was 78 % of planning 10,000
    checkpoints' jobs (tools/bench/scheduling.py), so each is taken apart once."""
    return tuple(dataclasses.asdict(settings).items())


def settings_message(settings: EvalSettings) -> ev.EvaluationSettings:
    return ev.EvaluationSettings(**dict(_wire_fields(settings)))


def job_settings(job: ev.EvaluationJob) -> EvalSettings:
    """The job's settings; a job of an older orchestrator carries only its few-shot count."""
    if not job.HasField("settings"):
        return EvalSettings(num_few_shots=job.num_few_shots)
    wire = job.settings
    # Checked as the policy's are (SettingsError names the key): a job from a foreign or
    # buggy producer with a bad pattern would otherwise fail mid-job with re.error, which
    # dead-letters the job instead of reporting it FAILED.
    values = {key: getattr(wire, key) for key in KEYS}
    settings = EvalSettings().updated(values, f"job {job.job_id} settings")
    return dataclasses.replace(settings, few_shots_forced=wire.few_shots_forced)
