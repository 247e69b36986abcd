"""The evaluation jobs of one checkpoint: datasets × scoring modes × shards, with stable ids."""

from __future__ import annotations

from kiseki.core.eval_settings import settings_message
from kiseki.core.ids import job_id
from kiseki.orchestrator.policy import RunPolicy
from kiseki.serving.endpoints import Endpoint
from kiseki.v1 import events_pb2 as ev


def plan_jobs(
    checkpoint: ev.CheckpointDiscovered, policy: RunPolicy, endpoint: Endpoint
) -> list[ev.EvaluationJob]:
    """Each job carries its dataset's settings as the policy resolves them."""
    settings = {dataset: policy.settings_for(dataset) for dataset in policy.suites}
    messages = {dataset: settings_message(each) for dataset, each in settings.items()}
    return [
        ev.EvaluationJob(
            job_id=job_id(checkpoint.checkpoint_id, dataset, shard, policy.shards, mode),
            checkpoint_id=checkpoint.checkpoint_id,
            run_id=checkpoint.run_id,
            step=checkpoint.step,
            endpoint=endpoint.address,
            model_name=endpoint.model_name,
            dataset=dataset,
            shard_index=shard,
            shard_count=policy.shards,
            scoring_mode=mode,  # type: ignore[arg-type]
            num_few_shots=settings[dataset].num_few_shots,
            settings=messages[dataset],
            serving_backend=endpoint.backend,
            dtype=endpoint.dtype,
            served_checkpoint=endpoint.serves,
        )
        for dataset in policy.suites
        for mode in policy.scoring_modes
        for shard in range(policy.shards)
    ]
