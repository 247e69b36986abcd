"""A checkpoint step that crashed half-way (the broker went away while its jobs were being
published) is started again, rather than left in a state nothing moves on from."""

import asyncio

import pytest

from kiseki.core.kafka_config import KafkaConfig
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.serving.endpoints import Endpoint
from kiseki.v1 import events_pb2 as ev


class NoDeployer:
    async def start(self) -> None: ...

    async def deploy(self, checkpoint: ev.CheckpointDiscovered, serving: object = None) -> object:
        raise AssertionError("not called")

    async def teardown(self, checkpoint_id: str, keep_warm: bool = False) -> None: ...

    async def close(self) -> None: ...


@pytest.mark.parametrize(
    ("crashed_in", "expected"),
    [
        (ev.CHECKPOINT_STATE_DEPLOYING, ev.CHECKPOINT_STATE_DISCOVERED),
        (ev.CHECKPOINT_STATE_READY, ev.CHECKPOINT_STATE_DISCOVERED),
        # _schedule retries the teardown of an EVALUATING checkpoint by itself.
        (ev.CHECKPOINT_STATE_EVALUATING, ev.CHECKPOINT_STATE_EVALUATING),
    ],
)
async def test_a_crashed_step_is_tried_again(crashed_in: int, expected: int) -> None:
    policies = PolicyBook({}, defaults=RunPolicy(suites=("x",)))
    orchestrator = Orchestrator(
        KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        OrchestratorConfig(policy_file="unused.json"),  # type: ignore[arg-type]
        policies,
        NoDeployer(),  # type: ignore[arg-type]
    )
    view = orchestrator.fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))

    async def publish_jobs() -> None:
        view.state = crashed_in
        raise ConnectionError("broker went away")

    orchestrator._spawn(view, publish_jobs())
    await asyncio.sleep(0)  # let the step run and fail
    await asyncio.sleep(0)
    assert view.state == expected
    assert "c" not in orchestrator._busy
    assert [v.checkpoint.checkpoint_id for v in orchestrator.fleet.candidates(policies)] == (
        ["c"] if expected == ev.CHECKPOINT_STATE_DISCOVERED else []
    )


class LoadedDeployer(NoDeployer):
    async def deploy(self, checkpoint: ev.CheckpointDiscovered, serving: object = None) -> object:
        return Endpoint("127.0.0.1:1", checkpoint.checkpoint_id)


class Recorder:
    """Stands in for the producer: what was sent, and to which partition."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.partitions: list[int | None] = []

    async def partition_count(self, topic: str) -> int:
        return 12

    async def send(
        self, topic: str, message: object, key: str, partition: int | None = None
    ) -> None:
        self.sent.append(message)
        self.partitions.append(partition)


async def test_failed_jobs_are_sent_again_before_the_checkpoint_fails() -> None:
    policies = PolicyBook({}, defaults=RunPolicy(suites=("jnli",), shards=2))
    orchestrator = Orchestrator(
        KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        OrchestratorConfig(policy_file="unused.json", job_retries=1),  # type: ignore[arg-type]
        policies,
        LoadedDeployer(),  # type: ignore[arg-type]
    )
    recorder = Recorder()
    orchestrator._producer = recorder  # type: ignore[assignment]
    view = orchestrator.fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    await orchestrator._evaluate(view)
    jobs = [m for m in recorder.sent if isinstance(m, ev.EvaluationJob)]
    first, second = sorted(j.job_id for j in jobs)
    # A checkpoint's jobs go to consecutive partitions: different runners of the group.
    job_partitions = [
        p
        for m, p in zip(recorder.sent, recorder.partitions, strict=True)
        if m in jobs and p is not None
    ]
    assert len(job_partitions) == 2
    assert (job_partitions[1] - job_partitions[0]) % 12 == 1
    view.done.add(first)
    view.failures[second] = "gave up after 9 attempts: endpoint down"
    recorder.sent.clear()

    orchestrator._schedule()  # one retry left: the failed job goes out again
    await asyncio.gather(*orchestrator._busy.values())
    assert [m.job_id for m in recorder.sent if isinstance(m, ev.EvaluationJob)] == [second]
    assert view.state == ev.CHECKPOINT_STATE_EVALUATING
    assert view.failures == {}

    view.failures[second] = "gave up again"
    recorder.sent.clear()
    orchestrator._schedule()  # no retry left: FAILED with the reason
    await asyncio.gather(*orchestrator._busy.values())
    assert view.state == ev.CHECKPOINT_STATE_FAILED
    assert view.reason == "gave up again"
    assert not any(isinstance(m, ev.EvaluationJob) for m in recorder.sent)
