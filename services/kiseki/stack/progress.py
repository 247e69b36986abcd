"""What `kiseki up` and the demo show while they run: checkpoints per state, from the
orchestrator's control API, and each regression the sink announces on the status topic."""

from __future__ import annotations

from collections import Counter

import grpc

from kiseki.core.config import load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.kafka import ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.core.scoring_modes import scoring_mode_name
from kiseki.core.status import is_lifecycle
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc
from kiseki.v1 import events_pb2 as ev


async def checkpoint_states(
    control_address: str, run_id: str, auth: GrpcAuthConfig | None = None
) -> dict[str, int]:
    """Checkpoints of `run_id` per lifecycle state; empty while the orchestrator is not up.
    TLS and the token come from the same settings as the orchestrator's (KISEKI_CONTROL_*)."""
    auth = auth or load_config(GrpcAuthConfig)
    async with auth.channel(control_address) as channel:
        stub = control_pb2_grpc.ControlStub(channel)
        try:
            reply = await stub.ListCheckpoints(ctl.ListCheckpointsRequest(run_id=run_id), timeout=5)
        except grpc.aio.AioRpcError:
            return {}
    states = Counter(
        ev.CheckpointState.Name(c.status.state).removeprefix("CHECKPOINT_STATE_").lower()
        for c in reply.checkpoints
    )
    return dict(sorted(states.items()))


def describe(states: dict[str, int]) -> str:
    if not states:
        return "waiting for checkpoints"
    return ", ".join(f"{count} {state}" for state, count in states.items())


def describe_regression(status: ev.CheckpointStatus) -> str:
    drop = status.regression
    mode = scoring_mode_name(drop.scoring_mode)
    return (
        f"significant drop at step {status.step}: {drop.dataset} ({mode})"
        f" {drop.score:.4g} against {drop.against_score:.4g}"
        f" at the {drop.against} checkpoint (step {drop.against_step}), delta {drop.delta:+.4g},"
        f" p = {drop.p_value:.3g}; {drop.fell} samples fell"
    )


class Announcements:
    """The regressions announced for `run_id`, followed from the status topic's start."""

    def __init__(self, kafka: KafkaConfig, run_id: str) -> None:
        self.kafka, self.run_id = kafka, run_id
        self._tail: TopicTail[ev.CheckpointStatus] = TopicTail(
            kafka, {kafka.topics.status: ev.CheckpointStatus}
        )

    async def start(self) -> None:
        await ensure_topics(self.kafka, self.kafka.topics.partitions())
        await self._tail.start()

    async def stop(self) -> None:
        await self._tail.stop()

    async def lines(self, timeout_ms: int = 0) -> list[str]:
        """The announcements fetched since the last call, as lines to print."""
        return [
            describe_regression(d.message)
            for d in await self._tail.read(timeout_ms=timeout_ms)
            if not is_lifecycle(d.message) and d.message.run_id == self.run_id
        ]
