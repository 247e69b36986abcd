"""What `kiseki up` and the demo show while they run: checkpoints per state, from the
orchestrator's control API."""

from __future__ import annotations

from collections import Counter

import grpc

from kiseki.core.config import load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
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
