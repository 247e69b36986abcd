"""The one constructor of a CheckpointStatus, for every service that reports a lifecycle
change (watcher, orchestrator, its control API), and of the sink's announcement of a
regression, which travels on the same topic but changes no checkpoint's state."""

from __future__ import annotations

from kiseki.v1 import events_pb2 as ev


def checkpoint_status(
    checkpoint_id: str,
    run_id: str,
    step: int,
    state: int,
    *,
    source: str,
    reason: str = "",
    changed_at_ns: int | None = None,
    request: ev.EvaluationRequest | None = None,
) -> ev.CheckpointStatus:
    """Stamped now unless `changed_at_ns` says when the change happened."""
    status = ev.CheckpointStatus(
        checkpoint_id=checkpoint_id,
        run_id=run_id,
        step=step,
        state=state,  # type: ignore[arg-type]
        reason=reason,
        source=source,
        request=request,
    )
    if changed_at_ns is None:
        status.changed_at.GetCurrentTime()
    else:
        status.changed_at.FromNanoseconds(changed_at_ns)
    return status


def regression_status(
    checkpoint_id: str, run_id: str, step: int, regression: ev.Regression
) -> ev.CheckpointStatus:
    status = checkpoint_status(
        checkpoint_id,
        run_id,
        step,
        ev.CHECKPOINT_STATE_UNSPECIFIED,
        source="sink",
        reason=f"significant drop on {regression.dataset} against the {regression.against}",
    )
    status.regression.CopyFrom(regression)
    return status


def is_lifecycle(status: ev.CheckpointStatus) -> bool:
    """False for an announcement: a consumer that follows states passes over it."""
    return not status.HasField("regression")
