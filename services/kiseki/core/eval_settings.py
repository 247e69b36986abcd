"""Evaluation settings on the wire: the orchestrator resolves them into each job, the runner
reads them back; one conversion each way."""

from __future__ import annotations

import dataclasses

from kiseki.evaluation.settings import EvalSettings
from kiseki.v1 import events_pb2 as ev


def settings_message(settings: EvalSettings) -> ev.EvaluationSettings:
    return ev.EvaluationSettings(**dataclasses.asdict(settings))


def job_settings(job: ev.EvaluationJob) -> EvalSettings:
    """The job's settings; a job of an older orchestrator carries only its few-shot count."""
    if not job.HasField("settings"):
        return EvalSettings(num_few_shots=job.num_few_shots)
    wire = job.settings
    return EvalSettings(
        **{field.name: getattr(wire, field.name) for field in dataclasses.fields(EvalSettings)}
    )
