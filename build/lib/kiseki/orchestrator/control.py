"""The control API (kiseki.v1.Control), answered from the orchestrator's fleet view."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.core.status import checkpoint_status
from kiseki.orchestrator.loop import Orchestrator
from kiseki.orchestrator.policy import RunPolicy
from kiseki.orchestrator.state import ACTIVE, CheckpointView
from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import control_pb2_grpc
from kiseki.v1 import events_pb2 as ev


def _status(view: CheckpointView) -> ev.CheckpointStatus:
    checkpoint = view.checkpoint
    return checkpoint_status(
        checkpoint.checkpoint_id,
        checkpoint.run_id,
        checkpoint.step,
        view.state,
        source="orchestrator",
        reason=view.reason,
        changed_at_ns=view.changed_at_ns,
    )


def _invalid(
    request: ctl.RequestEvaluationRequest, views: list[CheckpointView], policy: RunPolicy | None
) -> tuple[grpc.StatusCode, str] | None:
    """Why an evaluation request cannot be taken, as a gRPC status and message."""
    if policy is None:
        return grpc.StatusCode.FAILED_PRECONDITION, (
            f"run {request.run_id!r} has no policy (the policy file names neither it nor '*')"
        )
    unknown_steps = sorted(set(request.steps) - {v.checkpoint.step for v in views})
    if unknown_steps:
        return grpc.StatusCode.NOT_FOUND, (
            f"run {request.run_id!r} has no checkpoint at steps {unknown_steps}"
        )
    if any(not suite.strip() for suite in request.suites):
        return grpc.StatusCode.INVALID_ARGUMENT, "a suite name is empty"
    if any(mode not in SCORING_MODES.values() for mode in request.scoring_modes):
        return grpc.StatusCode.INVALID_ARGUMENT, (
            f"scoring modes must be among {sorted(SCORING_MODES)},"
            f" got {list(request.scoring_modes)}"
        )
    return None


class ControlService(control_pb2_grpc.ControlServicer):
    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator

    async def ListRuns(self, request: ctl.ListRunsRequest, context: object) -> ctl.ListRunsResponse:
        runs = []
        for run_id, views in sorted(self.orchestrator.fleet.runs().items()):
            runs.append(
                ctl.Run(
                    run_id=run_id,
                    model_size=views[0].checkpoint.model_size,
                    num_checkpoints=len(views),
                    latest_step=max(v.checkpoint.step for v in views),
                )
            )
        return ctl.ListRunsResponse(runs=runs)

    async def ListCheckpoints(
        self, request: ctl.ListCheckpointsRequest, context: grpc.aio.ServicerContext
    ) -> ctl.ListCheckpointsResponse:
        views = self.orchestrator.fleet.runs().get(request.run_id)
        if views is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown run {request.run_id!r}")
        ordered = sorted(views or [], key=lambda v: v.checkpoint.step)
        return ctl.ListCheckpointsResponse(
            checkpoints=[
                ctl.CheckpointSummary(checkpoint=v.checkpoint, status=_status(v)) for v in ordered
            ]
        )

    async def GetCheckpointStatus(
        self, request: ctl.GetCheckpointStatusRequest, context: grpc.aio.ServicerContext
    ) -> ev.CheckpointStatus:
        view = self.orchestrator.fleet.views.get(request.checkpoint_id)
        if view is None:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"unknown checkpoint {request.checkpoint_id!r}"
            )
        assert view is not None
        return _status(view)

    async def RequestEvaluation(
        self, request: ctl.RequestEvaluationRequest, context: grpc.aio.ServicerContext
    ) -> ctl.RequestEvaluationResponse:
        """A backfill: the given steps (all: every known one) are evaluated again, on the
        given suites and modes (none: the policy's), whether or not the policy selects them.
        The same job ids as before, so the store replaces rather than adds."""
        views = self.orchestrator.fleet.runs().get(request.run_id)
        if views is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown run {request.run_id!r}")
        problem = _invalid(request, views or [], self.orchestrator.policies.for_run(request.run_id))
        if problem:
            await context.abort(*problem)
        steps = set(request.steps)
        asked = [v for v in views or [] if not steps or v.checkpoint.step in steps]
        chosen = [v for v in asked if v.state not in ACTIVE]
        wanted = ev.EvaluationRequest(suites=request.suites, scoring_modes=request.scoring_modes)
        for view in chosen:
            view.done.clear()
            view.failures.clear()
            await self.orchestrator.publish_status(
                view, ev.CHECKPOINT_STATE_DISCOVERED, "evaluation requested", wanted
            )
        return ctl.RequestEvaluationResponse(
            checkpoint_ids=[v.checkpoint.checkpoint_id for v in chosen],
            in_flight=[v.checkpoint.checkpoint_id for v in asked if v.state in ACTIVE],
        )

    async def WatchStatus(
        self, request: ctl.WatchStatusRequest, context: object
    ) -> AsyncIterator[ev.CheckpointStatus]:
        queue: asyncio.Queue[ev.CheckpointStatus] = asyncio.Queue(maxsize=10000)
        self.orchestrator.listeners.add(queue)
        try:
            while True:
                status = await queue.get()
                if not request.run_id or status.run_id == request.run_id:
                    yield status
        finally:
            self.orchestrator.listeners.discard(queue)
