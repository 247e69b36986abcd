"""The orchestrator's fleet view, rebuilt from the log: redeliveries change nothing."""

from kiseki.core.status import regression_status
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
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


def _status(state: int, at_s: int) -> ev.CheckpointStatus:
    status = ev.CheckpointStatus(checkpoint_id="c", state=state)  # type: ignore[arg-type]
    status.changed_at.FromSeconds(at_s)
    return status


def test_a_replayed_summary_from_before_a_backfill_does_not_count_for_it() -> None:
    fleet = Fleet()
    view = fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    for state, at_s in [
        (ev.CHECKPOINT_STATE_DISCOVERED, 100),
        (ev.CHECKPOINT_STATE_DONE, 200),
        (ev.CHECKPOINT_STATE_DISCOVERED, 300),  # the backfill
        (ev.CHECKPOINT_STATE_EVALUATING, 310),
    ]:
        fleet.apply_status(_status(state, at_s))
    assert fleet.evaluating("c")
    view = fleet.views["c"]  # the view the backfill opened again
    fleet.apply_summary(_summary("j1", failed=False), sent_at_ns=150 * 10**9)
    fleet.apply_summary(_summary("j2", failed=False), sent_at_ns=320 * 10**9)
    assert view.done == {"j2"}
    # Followed live (no sender time), a summary counts: the backfill cleared the view itself.
    fleet.apply_summary(_summary("j1", failed=False))
    assert view.done == {"j1", "j2"}


def test_only_checkpoints_being_evaluated_want_results() -> None:
    fleet = Fleet()
    fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    assert not fleet.evaluating("c")
    assert not fleet.evaluating("unknown")
    for state, at_s in [(ev.CHECKPOINT_STATE_DEPLOYING, 1), (ev.CHECKPOINT_STATE_READY, 2)]:
        fleet.apply_status(_status(state, at_s))
        assert fleet.evaluating("c")
    fleet.apply_status(_status(ev.CHECKPOINT_STATE_DONE, 3))
    assert not fleet.evaluating("c")


def test_results_matter_from_the_earliest_request_in_flight() -> None:
    fleet = Fleet()
    assert fleet.first_request_ms() is None
    for checkpoint_id, asked_s, state in [
        ("a", 50, ev.CHECKPOINT_STATE_DONE),
        ("b", 70, ev.CHECKPOINT_STATE_EVALUATING),
        ("c", 90, ev.CHECKPOINT_STATE_DEPLOYING),
    ]:
        fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id=checkpoint_id))
        for status in (_status(ev.CHECKPOINT_STATE_DISCOVERED, asked_s), _status(state, 100)):
            status.checkpoint_id = checkpoint_id
            fleet.apply_status(status)
    assert fleet.first_request_ms() == 70_000


def test_an_explicit_request_starts_a_step_the_policy_skips_on_the_suites_it_names() -> None:
    policies = PolicyBook({}, defaults=RunPolicy(suites=("jnli", "jamp"), select="every:60"))
    fleet = Fleet()
    for step in (7, 60):
        fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id=f"c{step}", step=step))
    assert [v.checkpoint.step for v in fleet.candidates(policies)] == [60]
    asked = _status(ev.CHECKPOINT_STATE_DISCOVERED, 5)
    asked.checkpoint_id = "c7"
    loglikelihood = ev.SCORING_MODE_LOGLIKELIHOOD
    asked.request.CopyFrom(ev.EvaluationRequest(suites=["jamp"], scoring_modes=[loglikelihood]))
    fleet.apply_status(asked)
    assert [v.checkpoint.step for v in fleet.candidates(policies)] == [7, 60]
    policy = fleet.views["c7"].policy(policies)
    assert policy is not None
    assert (policy.suites, policy.scoring_modes, policy.select) == (
        ("jamp",),
        (loglikelihood,),
        "every:60",
    )
    # A request with no suites or modes takes the policy's.
    asked.request.Clear()
    asked.request.SetInParent()
    asked.changed_at.FromSeconds(6)
    fleet.apply_status(asked)
    policy = fleet.views["c7"].policy(policies)
    assert policy is not None
    assert policy.suites == ("jnli", "jamp")
    assert fleet.views["c60"].policy(policies) == policies.defaults


def test_an_announced_regression_changes_no_state() -> None:
    fleet = Fleet()
    view = fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    fleet.apply_status(_status(ev.CHECKPOINT_STATE_DONE, 200))
    drop = regression_status("c", "r", 0, ev.Regression(dataset="jnli", p_value=0.01))
    drop.changed_at.FromSeconds(300)
    fleet.apply_status(drop)
    assert view.state == ev.CHECKPOINT_STATE_DONE


def test_a_finished_checkpoint_keeps_no_job_ids() -> None:
    fleet = Fleet()
    view = fleet.add_checkpoint(ev.CheckpointDiscovered(checkpoint_id="c", run_id="r"))
    view.jobs = {"j1", "j2"}
    fleet.apply_summary(_summary("j1", failed=False))
    fleet.apply_summary(_summary("j2", failed=True))
    fleet.apply_status(_status(ev.CHECKPOINT_STATE_FAILED, 5))
    finished = fleet.views["c"]
    assert (finished.jobs, finished.done, finished.failures) == (set(), set(), {})
    assert finished.state == ev.CHECKPOINT_STATE_FAILED


def test_a_run_waits_while_a_checkpoint_of_it_is_selected_and_not_started() -> None:
    fleet = Fleet()
    policies = PolicyBook({"r": RunPolicy(("jnli",), select="every:100")})
    for step in (100, 150):  # 150 is not selected: it waits for nothing
        fleet.add_checkpoint(
            ev.CheckpointDiscovered(checkpoint_id=f"c{step}", run_id="r", step=step)
        )
    assert fleet.waiting_in("r", policies)
    assert not fleet.waiting_in("other", policies)
    fleet.views["c100"].state = ev.CHECKPOINT_STATE_CONVERTING  # converted for an endpoint
    assert fleet.waiting_in("r", policies)
    fleet.views["c100"].state = ev.CHECKPOINT_STATE_EVALUATING
    assert not fleet.waiting_in("r", policies)
