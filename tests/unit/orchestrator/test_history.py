"""Finished checkpoints leave the fleet's views for a record in its history database: what
the control API lists, ordering and live-first need is still there; an evaluation asked for
again opens the checkpoint's view again, an older status does not."""

from __future__ import annotations

from collections.abc import Mapping

from kiseki.orchestrator.history import Finished, History
from kiseki.orchestrator.ordering import coarse_to_fine
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev

NOW = 1_800_000_000.0
DONE, FAILED = ev.CHECKPOINT_STATE_DONE, ev.CHECKPOINT_STATE_FAILED


def _checkpoint(step: int, run: str = "r") -> ev.CheckpointDiscovered:
    checkpoint = ev.CheckpointDiscovered(
        checkpoint_id=f"{run}/{step}", run_id=run, step=step, uri=f"/ckpt/{run}/iter_{step}"
    )
    checkpoint.format = ev.CHECKPOINT_FORMAT_HF_TRAINER  # served as it is: no conversion
    checkpoint.discovered_at.FromNanoseconds(int((NOW - 60 - 1000 + step) * 1e9))
    return checkpoint


def _status(checkpoint_id: str, state: int, at_s: float, reason: str = "") -> ev.CheckpointStatus:
    status = ev.CheckpointStatus(checkpoint_id=checkpoint_id, state=state, reason=reason)  # type: ignore[arg-type]
    status.run_id = checkpoint_id.split("/")[0]
    status.changed_at.FromNanoseconds(int(at_s * 1e9))
    return status


def _fleet(steps: list[int], finished: Mapping[int, int]) -> Fleet:
    fleet = Fleet()
    for step in steps:
        fleet.add_checkpoint(_checkpoint(step))
    for step, state in finished.items():
        fleet.apply_status(_status(f"r/{step}", state, NOW - 30, "bad shard" * (state == FAILED)))
    return fleet


def test_a_finished_checkpoint_is_kept_as_a_record_the_control_api_still_reads() -> None:
    fleet = _fleet([10, 20, 30], {10: DONE, 20: FAILED})
    assert set(fleet.open) == {"r/30"}
    assert len(fleet.views) == 3
    assert set(fleet.views) == {"r/10", "r/20", "r/30"}
    failed = fleet.views["r/20"]
    assert failed.checkpoint == _checkpoint(20)  # uri, format and time kept whole
    assert (failed.state, failed.reason) == (FAILED, "bad shard")
    assert failed.changed_at_ns == int((NOW - 30) * 1e9)
    by_step = {v.checkpoint.step: v.state for v in fleet.runs()["r"]}
    assert by_step == {10: DONE, 20: FAILED, 30: ev.CHECKPOINT_STATE_DISCOVERED}
    assert fleet.progress() == {"r": (2, 3)}


def test_a_finished_checkpoint_discovered_again_is_not_evaluated_again() -> None:
    fleet = _fleet([10], {10: DONE})
    again = fleet.add_checkpoint(_checkpoint(10))
    assert again.state == DONE
    assert not fleet.open
    assert fleet.candidates(PolicyBook({}, defaults=RunPolicy(("jnli",))), NOW) == []


def test_an_evaluation_asked_for_again_opens_it_and_an_older_status_does_not() -> None:
    fleet = _fleet([10], {10: DONE})
    fleet.apply_status(_status("r/10", ev.CHECKPOINT_STATE_EVALUATING, NOW - 40))  # replayed
    assert not fleet.open
    assert fleet.views["r/10"].state == DONE
    asked = _status("r/10", ev.CHECKPOINT_STATE_DISCOVERED, NOW - 20)
    asked.request.suites.append("jamp")
    fleet.apply_status(asked)
    view = fleet.open["r/10"]
    assert view.checkpoint == _checkpoint(10)
    assert view.state == ev.CHECKPOINT_STATE_DISCOVERED
    assert view.request is not None
    assert list(view.request.suites) == ["jamp"]
    assert view.requested_at_ns == int((NOW - 20) * 1e9)
    assert fleet.progress() == {"r": (0, 1)}
    fleet.apply_status(_status("r/10", DONE, NOW - 10))
    assert not fleet.open
    assert fleet.views["r/10"].changed_at_ns == int((NOW - 10) * 1e9)


def test_finished_steps_are_the_anchors_coarse_to_fine_bisects_between() -> None:
    finished = {1000: DONE, 1400: FAILED, 2000: DONE}
    fleet = _fleet([1000, 1100, 1400, 1450, 1750, 2000], finished)
    book = PolicyBook({}, defaults=RunPolicy(("jnli",), order="coarse-to-fine"))
    order = [v.checkpoint.step for v in fleet.candidates(book, NOW)]
    assert order == coarse_to_fine([1100, 1450, 1750], evaluated=finished)
    assert order[0] == 1750  # farthest from 1000, 1400 and 2000


def test_a_run_whose_newest_checkpoint_is_finished_has_no_live_pick() -> None:
    book = PolicyBook({}, defaults=RunPolicy(("jnli",), live_first=True))
    fleet = _fleet([1, 2, 3], {3: DONE})
    assert [v.checkpoint.step for v in fleet.candidates(book, NOW)] == [1, 2]
    fleet.add_checkpoint(_checkpoint(4))  # training wrote another: it goes first
    assert [v.checkpoint.step for v in fleet.candidates(book, NOW)] == [4, 1, 2]


def test_the_history_keeps_one_record_per_checkpoint_in_its_database() -> None:
    history = History()
    for run, step in (("a", 30), ("a", 10), ("b", 5), ("a", 20)):
        history.add(Finished(_checkpoint(step, run), DONE, "", step))
    history.add(Finished(_checkpoint(10, "a"), FAILED, "again", 99))  # the same one, later
    assert len(history) == 4
    assert history.counts() == {"a": 3, "b": 1}
    assert history.steps("a") == [10, 20, 30]
    assert (history.newest_step("a"), history.newest_step("none")) == (30, None)
    assert history.get("a/10") == Finished(_checkpoint(10, "a"), FAILED, "again", 99)
    assert history.pop("a/30") == Finished(_checkpoint(30, "a"), DONE, "", 30)
    assert (history.pop("a/30"), history.get("a/30")) == (None, None)
    assert [f.checkpoint.step for f in history.each("a")] == [10, 20]
    assert sorted(history.ids()) == ["a/10", "a/20", "b/5"]
    assert sorted(history.runs()) == ["a", "b"]
