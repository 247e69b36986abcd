"""A checkpoint message naming a path outside the configured roots is FAILED with the reason
and never deployed."""

from pathlib import Path

from kiseki.core.kafka_config import KafkaConfig
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.orchestrator.roots import CheckpointRoots
from kiseki.v1 import events_pb2 as ev


class RefusingDeployer:
    async def deploy(self, checkpoint: ev.CheckpointDiscovered, serving: object = None) -> object:
        raise AssertionError("a checkpoint outside the roots was deployed")


async def test_a_checkpoint_outside_the_roots_is_failed_not_deployed(tmp_path: Path) -> None:
    orchestrator = Orchestrator(
        KafkaConfig(bootstrap_servers="127.0.0.1:1"),
        OrchestratorConfig(policy_file=tmp_path / "unused.json"),
        PolicyBook({}, defaults=RunPolicy(suites=("x",))),
        RefusingDeployer(),  # type: ignore[arg-type]
        CheckpointRoots((str(tmp_path / "run"),)),
    )
    published: list[tuple[int, str]] = []

    async def publish_status(
        view: object, state: int, reason: str = "", request: object = None
    ) -> None:
        published.append((state, reason))

    orchestrator.publish_status = publish_status  # type: ignore[method-assign]
    view = orchestrator.fleet.add_checkpoint(
        ev.CheckpointDiscovered(checkpoint_id="c", run_id="r", uri="/etc/ssl")
    )
    await orchestrator._evaluate(view)
    [(state, reason)] = published
    assert state == ev.CHECKPOINT_STATE_FAILED
    assert "'/etc/ssl' resolves outside the configured roots" in reason
