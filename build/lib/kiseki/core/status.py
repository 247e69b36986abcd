"""The one constructor of a CheckpointStatus, for every service that reports a lifecycle
change (watcher, orchestrator, its control API)."""

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
