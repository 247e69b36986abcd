"""Conversions run ahead of the endpoints: while the budget's endpoints evaluate, the next
checkpoints are converted (as many as `conversion_ahead` says), so that a freed endpoint loads
a finished copy at once; a failed conversion fails its checkpoint alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kiseki.core.config import ConfigError, load_config
from kiseki.core.kafka_config import KafkaConfig
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.orchestrator.state import CheckpointView
from kiseki.v1 import events_pb2 as ev

CONVERTING, DISCOVERED = ev.CHECKPOINT_STATE_CONVERTING, ev.CHECKPOINT_STATE_DISCOVERED
DEPLOYING, EVALUATING = ev.CHECKPOINT_STATE_DEPLOYING, ev.CHECKPOINT_STATE_EVALUATING


class Recorder:
    """Stands in for the producer: the statuses sent."""

    def __init__(self) -> None:
        self.sent: list[ev.CheckpointStatus] = []

    async def send(self, topic: str, message: ev.CheckpointStatus, key: str) -> None:
        self.sent.append(message)


class NoDeployer:
    async def deploy(self, checkpoint: ev.CheckpointDiscovered, serving: object = None) -> object:
        raise ConnectionError("not deployed in these tests")


def _orchestrator(tmp_path: Path, ahead: int, python: str = "unused") -> Orchestrator:
    config = OrchestratorConfig(
        policy_file=tmp_path / "unused.json",
        conversion_dir=tmp_path / "converted",
        conversion_ahead=ahead,
        conversion_python=python,
    )
    policies = PolicyBook({}, defaults=RunPolicy(suites=("jnli",)))
    orchestrator = Orchestrator(
        KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        config,
        policies,
        NoDeployer(),  # type: ignore[arg-type]
    )
    orchestrator._producer = Recorder()  # type: ignore[assignment]
    return orchestrator


def _megatron(orchestrator: Orchestrator, step: int, state: int = DISCOVERED) -> CheckpointView:
    checkpoint = ev.CheckpointDiscovered(
        checkpoint_id=f"r-{step}",
        run_id="r",
        step=step,
        uri=f"/nowhere/iter_{step:07d}",
        format=ev.CHECKPOINT_FORMAT_MEGATRON,
    )
    view = orchestrator.fleet.add_checkpoint(checkpoint)
    view.state = state
    return view


def _evaluating(orchestrator: Orchestrator) -> CheckpointView:
    """The budget's one endpoint, busy with an earlier checkpoint."""
    view = _megatron(orchestrator, 0, EVALUATING)
    view.jobs = {"j"}
    return view


async def _stop(orchestrator: Orchestrator) -> None:
    for task in orchestrator._busy.values():
        task.cancel()
    await asyncio.gather(*orchestrator._busy.values(), return_exceptions=True)


def _states(views: list[CheckpointView]) -> list[int]:
    return [view.state for view in views]


async def test_the_next_checkpoints_convert_while_the_endpoint_is_busy_within_the_bound(
    tmp_path: Path,
) -> None:
    for ahead in (1, 2):
        orchestrator = _orchestrator(tmp_path, ahead)
        _evaluating(orchestrator)
        waiting = [_megatron(orchestrator, step) for step in (1, 2, 3)]
        orchestrator._schedule()
        orchestrator._schedule()  # a second tick starts no more
        assert _states(waiting) == [CONVERTING] * ahead + [DISCOVERED] * (3 - ahead)
        assert sorted(orchestrator._busy) == [v.checkpoint.checkpoint_id for v in waiting][:ahead]
        await _stop(orchestrator)


async def test_without_conversions_ahead_a_checkpoint_converts_only_for_a_free_endpoint(
    tmp_path: Path,
) -> None:
    orchestrator = _orchestrator(tmp_path, ahead=0)
    busy = _evaluating(orchestrator)
    waiting = [_megatron(orchestrator, step) for step in (1, 2)]
    orchestrator._schedule()
    assert _states(waiting) == [DISCOVERED, DISCOVERED]
    busy.state = ev.CHECKPOINT_STATE_DONE
    orchestrator._schedule()
    assert _states(waiting) == [CONVERTING, DISCOVERED]
    await _stop(orchestrator)


async def test_a_converted_checkpoint_takes_the_freed_endpoint_and_the_next_converts(
    tmp_path: Path,
) -> None:
    orchestrator = _orchestrator(tmp_path, ahead=1)
    busy = _evaluating(orchestrator)
    converted, unconverted = _megatron(orchestrator, 1, CONVERTING), _megatron(orchestrator, 2)
    converted.served = ev.CheckpointDiscovered(checkpoint_id="r-1", uri=str(tmp_path))
    orchestrator._schedule()
    assert _states([converted, unconverted]) == [CONVERTING, DISCOVERED]  # the bound: one
    busy.state = ev.CHECKPOINT_STATE_DONE
    orchestrator._schedule()
    assert _states([converted, unconverted]) == [DEPLOYING, CONVERTING]
    await _stop(orchestrator)


async def test_a_failed_conversion_fails_its_checkpoint_alone_and_a_finished_copy_is_reused(
    tmp_path: Path,
) -> None:
    python = tmp_path / "python"  # what the kernel's OOM killer does to a conversion process
    python.write_text("#!/bin/sh\nkill -KILL $$\n")
    python.chmod(0o755)
    orchestrator = _orchestrator(tmp_path, ahead=3, python=str(python))
    await orchestrator.converter.start()
    _evaluating(orchestrator)
    bad, good = _megatron(orchestrator, 1), _megatron(orchestrator, 2)
    # Replayed after a restart: the log said CONVERTING, and that conversion had finished.
    resumed = _megatron(orchestrator, 3, CONVERTING)
    for view in (good, resumed):
        (tmp_path / "converted" / view.checkpoint.checkpoint_id).mkdir()
    orchestrator._schedule()
    await asyncio.gather(*orchestrator._busy.values())
    assert bad.state == ev.CHECKPOINT_STATE_FAILED
    assert "killed by SIGKILL" in bad.reason
    assert _states([good, resumed]) == [CONVERTING, CONVERTING]
    for view in (good, resumed):
        assert view.served is not None
        assert view.served.uri == str(tmp_path / "converted" / view.checkpoint.checkpoint_id)
        assert view.served.format == ev.CHECKPOINT_FORMAT_HF
    recorder = orchestrator._producer
    assert isinstance(recorder, Recorder)
    announced = [s.checkpoint_id for s in recorder.sent if s.state == CONVERTING]
    assert announced == ["r-1", "r-2"]  # the resumed one had said so before its restart


@pytest.mark.parametrize(
    ("variable", "value"), [("KISEKI_CONVERSION_AHEAD", "-1"), ("KISEKI_CONVERSION_SLOTS", "0")]
)
def test_a_bound_that_cannot_work_is_refused_naming_the_setting(variable: str, value: str) -> None:
    config = load_config(OrchestratorConfig, {"KISEKI_POLICY_FILE": "p.yaml", variable: value})
    with pytest.raises(ConfigError, match=f"{variable}={value} must be at least"):
        config.validate()
