"""A Megatron-LM run end to end: the watcher's scanner finds `iter_0000010/` (written by
Megatron-Core itself), the orchestrator converts it in a process of its own, serves the HF
copy from a real tritonserver, a real task-runner scores it; an orchestrator killed during
the conversion leaves nothing half-written behind and the next one converts it once."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.conversion import ConversionFailed, ProcessConverter
from kiseki.orchestrator.deployer import LocalTritonDeployer
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import parse_policies
from kiseki.runner.config import RunnerConfig
from kiseki.runner.evaluate import Emit, TaskCache, score_job
from kiseki.runner.loop import TaskRunner
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import LocalEndpointManager
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.runs import WatchedRun
from kiseki.watcher.scanner import RunScanner
from support.frameworks import framework_fixtures
from support.polling import poll_until_async
from support.runner import DATASETS

POLICY = {"runs": {"*": {"suites": ["synth_nli"], "scoring_modes": ["loglikelihood"]}}}


def watched(tmp_path: Path) -> ev.CheckpointDiscovered:
    """The run root as Megatron-LM leaves it, through the watcher's own scanner."""
    fixtures = framework_fixtures()
    root = tmp_path / "run"
    shutil.copytree(fixtures / "megatron-llama-tp2" / "torch_dist", root)
    run = WatchedRun("llm-jp", root, "megatron", tokenizer=fixtures / "tokenizer")
    scanner = RunScanner(run, 0.0, 100.0, None)
    scanner.scan(0.0)
    [message] = scanner.scan(1.0).complete
    return message


class Running:
    def __init__(self, kafka: KafkaConfig, workdir: Path, keep: bool = False) -> None:
        policy = {"runs": {"*": {**POLICY["runs"]["*"], "keep_converted": keep}}}
        config = OrchestratorConfig(
            policy_file=Path("unused"),
            workdir=workdir,
            tick_s=0.1,
            conversion_dir=workdir / "converted",
        )
        self.deployer = LocalTritonDeployer(LocalEndpointManager(workdir))
        self.orchestrator = Orchestrator(kafka, config, parse_policies(policy), self.deployer)
        self.context = ServiceContext("orchestrator", Health())
        self.task = asyncio.create_task(self.orchestrator.run(self.context))

    def state(self, checkpoint_id: str) -> int | None:
        view = self.orchestrator.fleet.views.get(checkpoint_id)
        return None if view is None else view.state

    async def kill(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.deployer.close()

    async def stop(self) -> None:
        self.context.stopping.set()
        await asyncio.wait_for(self.task, 30)
        await self.deployer.close()


async def scored(kafka: KafkaConfig, results: list[ev.JobResults]) -> TaskRunner:
    cache = TaskCache(DATASETS)

    async def score(job: ev.EvaluationJob, client: ScoringClient, emit: Emit) -> ev.JobResults:
        result = await score_job(job, client, cache, emit)
        results.append(result)
        return result

    return TaskRunner(kafka, RunnerConfig(datasets_dir=DATASETS, items_per_request=8), score)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_megatron_run_is_converted_once_served_and_scored_across_a_restart(
    kafka_config: KafkaConfig,
    producer: ProtoProducer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = watched(tmp_path)
    ck = message.checkpoint_id
    converted = tmp_path / "orchestrator" / "converted"
    await producer.send(kafka_config.topics.checkpoints, message, key=message.run_id)
    first = Running(kafka_config, tmp_path / "orchestrator")

    async def converting() -> bool:
        return first.state(ck) == ev.CHECKPOINT_STATE_CONVERTING

    # A conversion process takes seconds (torch and transformers load first): killed in it.
    await poll_until_async(converting, timeout_s=60, interval_s=0.05)
    await first.kill()  # its conversion process goes with it
    assert not (converted / ck).exists()  # never renamed into place half-written

    caplog.set_level(logging.INFO, logger="kiseki.orchestrator.conversion")
    caplog.clear()
    second = Running(kafka_config, tmp_path / "orchestrator", keep=True)
    results: list[ev.JobResults] = []
    runner_context = ServiceContext("runner", Health())
    runner = asyncio.create_task((await scored(kafka_config, results)).run(runner_context))
    try:

        async def done() -> bool:
            assert not runner.done() or runner.exception() is None
            return second.state(ck) == ev.CHECKPOINT_STATE_DONE

        await poll_until_async(done, timeout_s=180, interval_s=0.2)
    finally:
        runner_context.stopping.set()
        await asyncio.wait_for(runner, 60)
        await second.stop()
    started = [r for r in caplog.records if r.getMessage() == "conversion started"]
    assert len(started) == 1
    assert sorted(p.name for p in converted.iterdir()) == [ck]  # kept; the partial swept
    assert (converted / ck / "model.safetensors").is_file()
    [result] = results
    assert result.summary.num_samples > 0
    assert not result.summary.failed
    assert all(sample.checkpoint_id == ck for sample in result.samples)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_a_bad_checkpoint_fails_by_name_and_the_next_is_evaluated_then_deleted(
    kafka_config: KafkaConfig, producer: ProtoProducer, tmp_path: Path
) -> None:
    fixtures = framework_fixtures()
    root = tmp_path / "run"
    root.mkdir()
    for step in (10, 20):
        shutil.copytree(
            fixtures / "megatron-llama-tp2" / "legacy" / "iter_0000010", root / f"iter_{step:07d}"
        )
    shutil.rmtree(root / "iter_0000010" / "mp_rank_01")
    (root / "latest_checkpointed_iteration.txt").write_text("20")
    scanner = RunScanner(
        WatchedRun("r", root, "megatron", tokenizer=fixtures / "tokenizer"), 0.0, 100.0, None
    )
    scanner.scan(0.0)
    messages = sorted(scanner.scan(1.0).complete, key=lambda m: m.step)
    for message in messages:
        await producer.send(kafka_config.topics.checkpoints, message, key=message.run_id)
    orchestrator = Running(kafka_config, tmp_path / "orchestrator")
    runner_context = ServiceContext("runner", Health())
    runner = asyncio.create_task((await scored(kafka_config, [])).run(runner_context))
    bad, good = (m.checkpoint_id for m in messages)
    try:

        async def settled() -> bool:
            final = (ev.CHECKPOINT_STATE_DONE, ev.CHECKPOINT_STATE_FAILED)
            return all(orchestrator.state(ck) in final for ck in (bad, good))

        await poll_until_async(settled, timeout_s=180, interval_s=0.2)
        views = orchestrator.orchestrator.fleet.views
        assert views[bad].state == ev.CHECKPOINT_STATE_FAILED
        assert "mp_rank_01/model_optim_rng.pt is missing" in views[bad].reason
        assert views[good].state == ev.CHECKPOINT_STATE_DONE
        assert list((tmp_path / "orchestrator" / "converted").iterdir()) == []  # not kept
    finally:
        runner_context.stopping.set()
        await asyncio.wait_for(runner, 60)
        await orchestrator.stop()


async def test_a_conversion_process_killed_outright_fails_its_checkpoint(tmp_path: Path) -> None:
    """What the kernel's OOM killer does to a conversion: the checkpoint FAILs, saying so."""
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nkill -KILL $$\n")
    python.chmod(0o755)
    converter = ProcessConverter(tmp_path / "converted", str(python), slots=1, timeout_s=30)
    await converter.start()
    checkpoint = ev.CheckpointDiscovered(
        checkpoint_id="ck", uri=str(tmp_path), format=ev.CHECKPOINT_FORMAT_MEGATRON
    )
    with pytest.raises(ConversionFailed, match="killed by SIGKILL"):
        await converter.convert(checkpoint)
    (tmp_path / "converted" / "ck").mkdir()  # a finished conversion (renamed when whole)
    served = await converter.convert(checkpoint)  # reused: the killing python never runs
    assert (served.uri, served.format) == (
        str(tmp_path / "converted" / "ck"),
        ev.CHECKPOINT_FORMAT_HF,
    )
