"""The orchestrator's fleet view, rebuilt from the log: redeliveries change nothing."""

from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev


def _summary(job_id: str, failed: bool) -> ev.JobSummary:
    return ev.JobSummary(job_id=job_id, checkpoint_id="c", failed=failed, error="gone")


def test_a_failed_redelivery_does_not_undo_a_done_job() -> None:
    fleet = Fleet()
    view = fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    view.jobs = {"j1", "j2"}
    fleet.apply_summary(_summary("j1", failed=False))
    # j1 redelivered after its endpoint was torn down: that attempt failed.
    fleet.apply_summary(_summary("j1", failed=True))
    fleet.apply_summary(_summary("j2", failed=True))
    assert view.done == {"j1"}
    assert view.failures == {"j2": "gone"}
    assert view.all_jobs_reported
    # A retry of j2 that succeeds clears its failure.
    fleet.apply_summary(_summary("j2", failed=False))
    assert view.done == {"j1", "j2"}
    assert view.failures == {}
