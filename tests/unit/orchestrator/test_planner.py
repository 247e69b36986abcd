"""The jobs of a checkpoint: one per dataset × mode × shard, each with its dataset's settings
and the endpoint's fields, and nothing shared between the plans of two checkpoints."""

from __future__ import annotations

from kiseki.core.ids import job_id
from kiseki.evaluation.settings import EvalSettings
from kiseki.orchestrator.planner import plan_jobs
from kiseki.orchestrator.policy import RunPolicy
from kiseki.serving.endpoints import Endpoint
from kiseki.v1 import events_pb2 as ev

MODES = (ev.SCORING_MODE_GENERATE, ev.SCORING_MODE_LOGLIKELIHOOD)
POLICY = RunPolicy(
    suites=("jnli", "jsquad"),
    scoring_modes=MODES,
    shards=2,
    settings=EvalSettings(num_few_shots=4),
    dataset_settings={"jsquad": EvalSettings(num_few_shots=2, data_type="dev")},
)


def _checkpoint(step: int) -> ev.CheckpointDiscovered:
    return ev.CheckpointDiscovered(checkpoint_id=f"run/{step}", run_id="run", step=step)


def test_each_job_carries_its_checkpoint_endpoint_dataset_settings_and_id() -> None:
    endpoint = Endpoint("host:8001", "model-a", backend="vllm", dtype="bfloat16")
    jobs = plan_jobs(_checkpoint(100), POLICY, endpoint)
    keys = [(j.dataset, j.scoring_mode, j.shard_index) for j in jobs]
    assert keys == [(d, m, s) for d in POLICY.suites for m in MODES for s in range(2)]
    for job in jobs:
        assert (job.checkpoint_id, job.run_id, job.step) == ("run/100", "run", 100)
        assert (job.endpoint, job.model_name) == ("host:8001", "model-a")
        assert (job.serving_backend, job.dtype, job.shard_count) == ("vllm", "bfloat16", 2)
        want = job_id("run/100", job.dataset, job.shard_index, 2, job.scoring_mode)
        assert job.job_id == want
        shots, data_type = (2, "dev") if job.dataset == "jsquad" else (4, "test")
        assert (job.num_few_shots, job.settings.num_few_shots) == (shots, shots)
        assert job.settings.data_type == data_type


def test_two_checkpoints_plans_share_nothing() -> None:
    endpoint = Endpoint("host:8001", "model-a")
    first = plan_jobs(_checkpoint(100), POLICY, endpoint)
    first[0].settings.num_few_shots = 9
    first[0].dataset = "changed"
    second = plan_jobs(_checkpoint(200), POLICY, endpoint)
    assert (second[0].dataset, second[0].settings.num_few_shots) == ("jnli", 4)
    assert {j.checkpoint_id for j in second} == {"run/200"}
    assert not {j.job_id for j in first} & {j.job_id for j in second}


def test_a_request_for_other_suites_and_modes_is_planned_as_asked() -> None:
    asked = RunPolicy(
        suites=("jsquad",),
        scoring_modes=MODES[1:],
        shards=2,
        settings=POLICY.settings,
        dataset_settings=POLICY.dataset_settings,
    )
    plan_jobs(_checkpoint(100), POLICY, Endpoint("host:8001", "m"))
    jobs = plan_jobs(_checkpoint(100), asked, Endpoint("host:8001", "m"))
    assert [(j.dataset, j.scoring_mode, j.num_few_shots) for j in jobs] == [
        ("jsquad", ev.SCORING_MODE_LOGLIKELIHOOD, 2)
    ] * 2
