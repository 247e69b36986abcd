"""Coarse-to-fine order, live-first preemption of a run's backfill, runs taking turns."""

from __future__ import annotations

import math

from kiseki.orchestrator.ordering import coarse_to_fine, is_log_spaced
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev

NOW = 1_800_000_000.0


def test_the_log_spaced_steps_come_first_then_the_widest_gaps_are_bisected() -> None:
    waiting = list(range(0, 3001, 50))
    order = coarse_to_fine(waiting)
    coarse = [s for s in waiting if is_log_spaced(s)]
    assert (
        order[: len(coarse)]
        == coarse
        == [0, 50, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 2000, 3000]
    )
    assert sorted(order) == waiting  # every step once
    # Then each pick is the waiting step farthest (log axis) from every step before it.
    chosen = set(coarse)
    for step in order[len(coarse) :]:

        def gap(s: int) -> float:
            return min(abs(math.log10(1 + s) - math.log10(1 + c)) for c in chosen)

        remaining = [s for s in waiting if s not in chosen]
        assert gap(step) == max(gap(s) for s in remaining)
        chosen.add(step)


def test_evaluated_steps_count_as_known() -> None:
    # With 1000, 1400 and 2000 known, 1750 is the farthest (log axis) from all of them.
    order = coarse_to_fine([1100, 1450, 1750], evaluated=[1000, 1400, 2000])
    assert order[0] == 1750


def test_a_large_backlog_is_ordered_whole() -> None:
    waiting = list(range(10_000))
    assert sorted(coarse_to_fine(waiting, evaluated=range(0, 10_000, 7))) == waiting


def _fleet(steps: list[int], written_s: float, run: str = "r") -> Fleet:
    fleet = Fleet()
    for step in steps:
        checkpoint = ev.CheckpointDiscovered(checkpoint_id=f"{run}{step}", run_id=run, step=step)
        checkpoint.discovered_at.FromNanoseconds(int((written_s - 10 * (steps[-1] - step)) * 1e9))
        fleet.add_checkpoint(checkpoint)
    return fleet


def _book(**options: object) -> PolicyBook:
    return PolicyBook({}, defaults=RunPolicy(("jnli",), **options))  # type: ignore[arg-type]


def test_a_live_runs_newest_checkpoint_goes_ahead_of_its_backfill() -> None:
    fleet = _fleet([1, 2, 3, 4, 1000], written_s=NOW - 60)
    fleet.views["r2"].state = ev.CHECKPOINT_STATE_EVALUATING  # running: left alone
    live = [v.checkpoint.step for v in fleet.candidates(_book(live_first=True), NOW)]
    assert live == [1000, 1, 3, 4]
    plain = [v.checkpoint.step for v in fleet.candidates(_book(), NOW)]
    assert plain == [1, 3, 4, 1000]
    finished = _fleet([1, 2, 3, 4, 1000], written_s=NOW - 7 * 3600)  # done training
    first = finished.candidates(_book(live_first=True), NOW)[0]
    assert first.checkpoint.step == 1


def test_runs_take_turns() -> None:
    fleet = _fleet([1, 2, 3], NOW, "a")
    for view in _fleet([10, 20], NOW, "b").views.values():
        fleet.add_checkpoint(view.checkpoint)
    book = PolicyBook({"b": RunPolicy(("jnli",), order="newest")}, defaults=RunPolicy(("jnli",)))
    assert [v.checkpoint.checkpoint_id for v in fleet.candidates(book, NOW)] == [
        "a1",
        "b20",
        "a2",
        "b10",
        "a3",
    ]
