"""The evaluation jobs of one checkpoint: datasets × scoring modes × shards, with stable ids."""

from __future__ import annotations

import functools

from kiseki.core.eval_settings import settings_message
from kiseki.core.ids import JobIds, JobKey
from kiseki.evaluation.settings import EvalSettings
from kiseki.orchestrator.policy import RunPolicy
from kiseki.serving.endpoints import Endpoint
from kiseki.v1 import events_pb2 as ev

# What a policy's jobs depend on: shards, modes, and each suite's resolved settings.
_PlanKey = tuple[
    int, tuple[int, ...], tuple[str, ...], EvalSettings, tuple[tuple[str, EvalSettings], ...]
]


class _Plan:
    """The jobs of one policy for any checkpoint: each job's dataset part (its settings
    message included) and id parts are made once and copied, not rebuilt per checkpoint."""

    def __init__(self, key: _PlanKey) -> None:
        shards, modes, suites, settings, overrides = key
        per_dataset = dict(overrides)
        keys: list[JobKey] = [
            (dataset, shard, shards, mode)
            for dataset in suites
            for mode in modes
            for shard in range(shards)
        ]
        messages = {d: settings_message(per_dataset.get(d, settings)) for d in suites}
        self.templates = [
            ev.EvaluationJob(
                dataset=dataset,
                shard_index=shard,
                shard_count=count,
                scoring_mode=mode,  # type: ignore[arg-type]
                num_few_shots=per_dataset.get(dataset, settings).num_few_shots,
                settings=messages[dataset],
            )
            for dataset, shard, count, mode in keys
        ]
        self.ids = JobIds(keys)


@functools.lru_cache(maxsize=64)
def _plan(key: _PlanKey) -> _Plan:
    return _Plan(key)


def plan_jobs(
    checkpoint: ev.CheckpointDiscovered, policy: RunPolicy, endpoint: Endpoint
) -> list[ev.EvaluationJob]:
    """Each job carries its dataset's settings as the policy resolves them."""
    overrides = tuple(sorted(policy.dataset_settings.items()))
    plan = _plan((policy.shards, policy.scoring_modes, policy.suites, policy.settings, overrides))
    head = ev.EvaluationJob(
        checkpoint_id=checkpoint.checkpoint_id,
        run_id=checkpoint.run_id,
        step=checkpoint.step,
        endpoint=endpoint.address,
        model_name=endpoint.model_name,
        serving_backend=endpoint.backend,
        dtype=endpoint.dtype,
        served_checkpoint=endpoint.serves,
    )
    jobs = []
    for template, job_id in zip(plan.templates, plan.ids.of(checkpoint.checkpoint_id), strict=True):
        job = ev.EvaluationJob()
        job.CopyFrom(template)
        job.MergeFrom(head)
        job.job_id = job_id
        jobs.append(job)
    return jobs
