"""The orchestrator deploys real endpoints, fans out jobs, finishes, and survives a restart.

The task-runner's part is played by the test: it takes jobs from kiseki.jobs, checks the
endpoint answers, and reports each job's summary on kiseki.results.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from prometheus_client import REGISTRY

from kiseki.cli import main as cli
from kiseki.core.grpc_server import GrpcServer
from kiseki.core.health import Health
from kiseki.core.kafka import Delivery, ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_consumer import ProtoConsumer
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.service import ServiceContext
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.control import ControlService
from kiseki.orchestrator.deployer import LocalTritonDeployer
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.planner import plan_jobs
from kiseki.orchestrator.policy import parse_policies
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import Endpoint, LocalEndpointManager
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc
from kiseki.v1 import events_pb2 as ev
from support.messages import discovered
from support.polling import poll_until_async

POLICY = {
    "budget": {"max_endpoints": 1},
    "runs": {"*": {"suites": ["jnli", "jamp"], "select": "every:60", "shards": 2}},
}


class RunningOrchestrator:
    def __init__(self, kafka: KafkaConfig, workdir: Path, warm_idle_s: float = 0.0) -> None:
        config = OrchestratorConfig(policy_file=Path("unused"), workdir=workdir, tick_s=0.1)
        deployer = LocalTritonDeployer(LocalEndpointManager(workdir), warm_idle_s)
        self.deployer = deployer
        self.orchestrator = Orchestrator(kafka, config, parse_policies(POLICY), deployer)
        self.context = ServiceContext("orchestrator", Health())
        self.task = asyncio.create_task(self.orchestrator.run(self.context))

    async def stop(self, graceful: bool = True) -> None:
        if graceful:
            self.context.stopping.set()
            await asyncio.wait_for(self.task, 30)
        else:
            self.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await self.task


async def serve_jobs(
    kafka: KafkaConfig, producer: ProtoProducer, jobs: list[ev.EvaluationJob], stop_after: int
) -> None:
    """Play the task-runner for `stop_after` jobs: check the endpoint, report a summary."""
    consumer = ProtoConsumer(kafka, {kafka.topics.jobs: ev.EvaluationJob}, "runners", producer)
    await consumer.start()

    async def handle(delivery: Delivery[ev.EvaluationJob]) -> None:
        job = delivery.message
        client = ScoringClient(job.endpoint, job.model_name, expect=job.served_checkpoint)
        try:
            assert len(await client.generate(["吾輩は"], 4)) == 1
        finally:
            await client.close()
        jobs.append(job)
        summary = ev.JobSummary(job_id=job.job_id, checkpoint_id=job.checkpoint_id, num_samples=1)
        await producer.send(
            kafka.topics.results, ev.JobResults(summary=summary), key=job.checkpoint_id
        )

    try:
        while len(jobs) < stop_after:
            await consumer.poll(handle, timeout_ms=200, max_records=1)
    finally:
        await consumer.stop()


async def latest_states(kafka: KafkaConfig, orchestrator: Orchestrator) -> dict[int, int]:
    return {v.checkpoint.step: v.state for v in orchestrator.fleet.views.values()}


async def check_control_api(
    kafka: KafkaConfig, orchestrator: Orchestrator, capsys: pytest.CaptureFixture[str]
) -> None:
    control = ControlService(orchestrator)
    server = GrpcServer(
        [lambda s: control_pb2_grpc.add_ControlServicer_to_server(control, s)],
        ["kiseki.v1.Control"],
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = control_pb2_grpc.ControlStub(channel)
            runs = await stub.ListRuns(ctl.ListRunsRequest())
            assert [(r.run_id, r.num_checkpoints, r.latest_step) for r in runs.runs] == [
                ("run", 3, 60)
            ]
            listed = await stub.ListCheckpoints(ctl.ListCheckpointsRequest(run_id="run"))
            assert [c.checkpoint.step for c in listed.checkpoints] == [0, 7, 60]
            with pytest.raises(grpc.aio.AioRpcError) as unknown:
                await stub.ListCheckpoints(ctl.ListCheckpointsRequest(run_id="nope"))
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
            ck60 = listed.checkpoints[2].checkpoint.checkpoint_id
            status = await stub.GetCheckpointStatus(
                ctl.GetCheckpointStatusRequest(checkpoint_id=ck60)
            )
            assert status.state == ev.CHECKPOINT_STATE_DONE
            await check_explicit_requests(kafka, orchestrator, stub, server.port, capsys)
            watch = stub.WatchStatus(ctl.WatchStatusRequest(run_id="run"))
            backfill = await stub.RequestEvaluation(
                ctl.RequestEvaluationRequest(run_id="run", steps=[60])
            )
            assert list(backfill.checkpoint_ids) == [ck60]
            first_change = await asyncio.wait_for(watch.read(), 10)
            assert (first_change.checkpoint_id, first_change.state) == (
                ck60,
                ev.CHECKPOINT_STATE_DISCOVERED,
            )
            watch.cancel()
    finally:
        await server.stop(grace_s=1)


async def check_explicit_requests(
    kafka: KafkaConfig,
    orchestrator: Orchestrator,
    stub: control_pb2_grpc.ControlStub,
    port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Step 7, which the policy skips, on one suite in one mode, asked for from the CLI."""
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    for refused_request, code in [
        (ctl.RequestEvaluationRequest(run_id="run", steps=[8]), grpc.StatusCode.NOT_FOUND),
        (ctl.RequestEvaluationRequest(run_id="run", scoring_modes=[99]), invalid),  # type: ignore[list-item]
        (ctl.RequestEvaluationRequest(run_id="run", suites=[" "]), invalid),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.RequestEvaluation(refused_request)
        assert refused.value.code() == code
    ck7 = next(v for v in orchestrator.fleet.views.values() if v.checkpoint.step == 7)
    argv = ["evaluate", "run", "--steps", "7", "--suites", "jamp", "--modes", "loglikelihood"]
    capsys.readouterr()
    assert await asyncio.to_thread(cli, [*argv, "--control", f"127.0.0.1:{port}"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[:2] == [
        "1 checkpoint(s) of run will be evaluated",
        f"  {ck7.checkpoint.checkpoint_id}",
    ]
    tail = TopicTail(kafka, {kafka.topics.jobs: ev.EvaluationJob})
    await tail.start()
    seen: list[ev.EvaluationJob] = []
    try:

        async def ck7_jobs_published() -> bool:
            seen.extend(d.message for d in await tail.read(timeout_ms=200))
            evaluating = ck7.state == ev.CHECKPOINT_STATE_EVALUATING  # its last change
            return evaluating and any(job.step == 7 for job in seen)

        await poll_until_async(ck7_jobs_published, timeout_s=60, interval_s=0.1)
    finally:
        await tail.stop()
    assert {(j.dataset, j.scoring_mode, j.shard_index) for j in seen if j.step == 7} == {
        ("jamp", ev.SCORING_MODE_LOGLIKELIHOOD, 0),
        ("jamp", ev.SCORING_MODE_LOGLIKELIHOOD, 1),
    }
    again = await stub.RequestEvaluation(ctl.RequestEvaluationRequest(run_id="run", steps=[7]))
    assert (list(again.checkpoint_ids), list(again.in_flight)) == (
        [],
        [ck7.checkpoint.checkpoint_id],
    )


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_checkpoints_are_evaluated_within_budget_and_across_a_restart(
    kafka_config: KafkaConfig,
    producer: ProtoProducer,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for step, path in sorted(tiny_checkpoints.items()):
        await producer.send(
            kafka_config.topics.checkpoints, discovered("run", step, path), key="run"
        )
    await producer.send(  # not selected by every:60
        kafka_config.topics.checkpoints, discovered("run", 7, tiny_checkpoints[0]), key="run"
    )
    first = RunningOrchestrator(kafka_config, tmp_path / "orchestrator")
    jobs: list[ev.EvaluationJob] = []
    # Half the first checkpoint's jobs, then the orchestrator dies without a word.
    await serve_jobs(kafka_config, producer, jobs, stop_after=2)
    assert len(first.orchestrator.fleet.active()) <= 1
    await first.stop(graceful=False)

    second = RunningOrchestrator(kafka_config, tmp_path / "orchestrator")
    try:
        await serve_jobs(kafka_config, producer, jobs, stop_after=8)

        async def all_done() -> bool:
            states = {v.checkpoint.step: v.state for v in second.orchestrator.fleet.views.values()}
            return states == {
                0: ev.CHECKPOINT_STATE_DONE,
                60: ev.CHECKPOINT_STATE_DONE,
                7: ev.CHECKPOINT_STATE_DISCOVERED,
            }

        await poll_until_async(all_done, timeout_s=120, interval_s=0.2)
        assert second.deployer.manager.loaded == {}  # every endpoint torn down
        by_checkpoint: dict[str, set[tuple[str, int]]] = {}
        for job in jobs:
            by_checkpoint.setdefault(job.checkpoint_id, set()).add((job.dataset, job.shard_index))
        expected = {(d, s) for d in ("jnli", "jamp") for s in range(2)}
        assert list(by_checkpoint.values()) == [expected, expected]
        await check_control_api(kafka_config, second.orchestrator, capsys)
    finally:
        await second.stop()
        await second.deployer.close()
        # The first manager's watchdog outlives its cancelled orchestrator in this one event
        # loop (a crashed process takes it along): it restarts the server the second killed.
        await first.deployer.close()


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_the_next_checkpoint_of_a_run_takes_over_the_warm_endpoint(
    kafka_config: KafkaConfig,
    producer: ProtoProducer,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
) -> None:
    swaps = REGISTRY.get_sample_value("kiseki_endpoint_deploys_total", {"how": "swap"}) or 0.0
    for step, path in sorted(tiny_checkpoints.items()):
        await producer.send(
            kafka_config.topics.checkpoints, discovered("run", step, path), key="run"
        )
    running = RunningOrchestrator(kafka_config, tmp_path / "orchestrator", warm_idle_s=600)
    jobs: list[ev.EvaluationJob] = []
    try:
        await serve_jobs(kafka_config, producer, jobs, stop_after=8)

        async def all_done() -> bool:
            states = {v.checkpoint.step: v.state for v in running.orchestrator.fleet.views.values()}
            return states == {0: ev.CHECKPOINT_STATE_DONE, 60: ev.CHECKPOINT_STATE_DONE}

        await poll_until_async(all_done, timeout_s=120, interval_s=0.2)
        first = discovered("run", 0, tiny_checkpoints[0]).checkpoint_id
        served = {(job.step, job.model_name, job.served_checkpoint) for job in jobs}
        assert served == {
            (0, first, str(tiny_checkpoints[0])),
            (60, first, str(tiny_checkpoints[60])),
        }
        after = REGISTRY.get_sample_value("kiseki_endpoint_deploys_total", {"how": "swap"})
        assert after == swaps + 1
        assert running.deployer.manager.loaded == {}  # the run's last one is not kept warm
    finally:
        await running.stop()
        await running.deployer.close()


async def say(producer: ProtoProducer, kafka: KafkaConfig, checkpoint_id: str, state: int) -> None:
    status = ev.CheckpointStatus(checkpoint_id=checkpoint_id, state=state)  # type: ignore[arg-type]
    status.changed_at.GetCurrentTime()
    await producer.send(kafka.topics.status, status, key=checkpoint_id)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_backfill_cut_short_by_a_restart_still_evaluates_every_job(
    kafka_config: KafkaConfig,
    producer: ProtoProducer,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
) -> None:
    """The log as an orchestrator left it when it died deploying a backfill: the summaries
    of the first evaluation are in it, and must not count for the second."""
    topics = kafka_config.topics
    checkpoint = discovered("run", 60, tiny_checkpoints[60])
    ck = checkpoint.checkpoint_id
    await producer.send(topics.checkpoints, checkpoint, key="run")
    await say(producer, kafka_config, ck, ev.CHECKPOINT_STATE_EVALUATING)
    policy = parse_policies(POLICY).for_run("run")
    assert policy is not None
    for job in plan_jobs(checkpoint, policy, Endpoint("gone:1", ck)):
        summary = ev.JobSummary(job_id=job.job_id, checkpoint_id=ck, num_samples=1)
        await producer.send(topics.results, ev.JobResults(summary=summary), key=ck)
    for state in (ev.CHECKPOINT_STATE_DONE, ev.CHECKPOINT_STATE_DISCOVERED):
        await say(producer, kafka_config, ck, state)
    await say(producer, kafka_config, ck, ev.CHECKPOINT_STATE_DEPLOYING)  # then it died

    restarted = RunningOrchestrator(kafka_config, tmp_path / "orchestrator")
    backfilled: list[ev.EvaluationJob] = []
    runner = asyncio.create_task(serve_jobs(kafka_config, producer, backfilled, stop_after=4))
    try:

        async def done() -> bool:
            assert not runner.done() or runner.exception() is None
            view = restarted.orchestrator.fleet.views.get(ck)  # None until the replay
            return view is not None and view.state == ev.CHECKPOINT_STATE_DONE

        await poll_until_async(done, timeout_s=120, interval_s=0.2)
        expected = {(d, s) for d in ("jnli", "jamp") for s in range(2)}
        assert {(job.dataset, job.shard_index) for job in backfilled} == expected
        assert len(backfilled) == 4
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await restarted.stop()
        await restarted.deployer.close()
