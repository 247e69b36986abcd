"""The orchestrator's view of every checkpoint, rebuilt from the log at each start.

Applying the same record twice changes nothing, so replaying the checkpoints, status and
results topics after a restart gives back the view the orchestrator had when it died.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import zip_longest

from kiseki.core.status import is_lifecycle
from kiseki.orchestrator.conversion import needs_conversion
from kiseki.orchestrator.history import Finished, History
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.v1 import events_pb2 as ev

FINAL = {ev.CHECKPOINT_STATE_DONE, ev.CHECKPOINT_STATE_FAILED}
# In flight: asked again, such a checkpoint is not started twice.
ACTIVE = {
    ev.CHECKPOINT_STATE_CONVERTING,
    ev.CHECKPOINT_STATE_DEPLOYING,
    ev.CHECKPOINT_STATE_READY,
    ev.CHECKPOINT_STATE_EVALUATING,
}
# Holding an endpoint, what the budget counts. CONVERTING is not among them: conversions run
# ahead, while the endpoints evaluate earlier checkpoints (loop.Orchestrator._convert_ahead).
HOLDING = ACTIVE - {ev.CHECKPOINT_STATE_CONVERTING}
# A run whose newest checkpoint was written this recently is still training: live_first
# puts that checkpoint ahead of the run's backfill (6 h: longer than any interval between a
# study's checkpoints, shorter than the time a finished run's backfill takes).
LIVE_WINDOW_S = 6 * 3600.0


def _recent(view: CheckpointView, now_s: float) -> bool:
    written = view.checkpoint.discovered_at.ToNanoseconds() / 1e9
    return written > 0 and now_s - written <= LIVE_WINDOW_S


@dataclass
class CheckpointView:
    checkpoint: ev.CheckpointDiscovered
    state: int = ev.CHECKPOINT_STATE_DISCOVERED
    reason: str = ""
    changed_at_ns: int = 0
    jobs: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    failures: dict[str, str] = field(default_factory=dict)
    retries: int = 0  # times the failed jobs were sent again (since this process started)
    # When the current evaluation was asked for (ns since the epoch): the latest DISCOVERED.
    requested_at_ns: int = 0
    request: ev.EvaluationRequest | None = None  # that status's explicit request, if it was one
    # The HF copy converted for this evaluation (since this process started): a CONVERTING
    # checkpoint with one waits only for an endpoint.
    served: ev.CheckpointDiscovered | None = None

    @property
    def all_jobs_reported(self) -> bool:
        return bool(self.jobs) and self.jobs <= self.done | set(self.failures)

    def policy(self, policies: PolicyBook) -> RunPolicy | None:
        """The run's policy, with what an explicit request asks for in place of its own."""
        policy = policies.for_run(self.checkpoint.run_id)
        if policy is None or self.request is None:
            return policy
        return replace(
            policy,
            suites=tuple(self.request.suites) or policy.suites,
            scoring_modes=tuple(self.request.scoring_modes) or policy.scoring_modes,
        )

    def wanted_by(self, policy: RunPolicy) -> bool:
        return self.request is not None or policy.selects(self.checkpoint.step)


def _view_of(finished: Finished) -> CheckpointView:
    checkpoint, state, reason, changed_at_ns = finished
    return CheckpointView(checkpoint, state, reason, changed_at_ns)


class Views(Mapping[str, CheckpointView]):
    """Every checkpoint's view by id: the unfinished ones as held, a finished one rebuilt
    from its record on each access (a copy: it changes through the fleet's status only)."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    def __getitem__(self, checkpoint_id: str) -> CheckpointView:
        view = self._fleet.open.get(checkpoint_id)
        if view is not None:
            return view
        found = self._fleet.history.get(checkpoint_id)
        if found is None:
            raise KeyError(checkpoint_id)
        return _view_of(found)

    def __iter__(self) -> Iterator[str]:
        yield from self._fleet.open
        yield from self._fleet.history.ids()

    def __len__(self) -> int:
        return len(self._fleet.open) + len(self._fleet.history)


@dataclass
class Fleet:
    # The checkpoints not finished (waiting or in flight); the finished, compact, per run.
    open: dict[str, CheckpointView] = field(default_factory=dict)
    history: History = field(default_factory=History)

    @property
    def views(self) -> Views:
        return Views(self)

    def add_checkpoint(self, checkpoint: ev.CheckpointDiscovered) -> CheckpointView:
        view = self.open.get(checkpoint.checkpoint_id)
        if view is not None:
            return view
        found = self.history.get(checkpoint.checkpoint_id)
        if found is not None:
            return _view_of(found)  # known and done: discovered again, not evaluated again
        view = self.open[checkpoint.checkpoint_id] = CheckpointView(checkpoint)
        return view

    def _reopened(self, status: ev.CheckpointStatus) -> CheckpointView | None:
        """A finished checkpoint's view again, for a status newer than its finish (an
        evaluation asked for again); None for an unknown checkpoint or an older status."""
        found = self.history.get(status.checkpoint_id)
        if found is None or status.changed_at.ToNanoseconds() < found.changed_at_ns:
            return None
        self.history.pop(status.checkpoint_id)
        view = self.open[status.checkpoint_id] = _view_of(found)
        return view

    def apply_status(self, status: ev.CheckpointStatus) -> None:
        """Take a status change unless the view already holds a newer one (our own
        changes are applied when made, before the log plays them back)."""
        if not is_lifecycle(status):
            return
        view = self.open.get(status.checkpoint_id) or self._reopened(status)
        if view is None:
            return
        changed_at_ns = status.changed_at.ToNanoseconds()
        discovered = status.state == ev.CHECKPOINT_STATE_DISCOVERED
        if discovered and changed_at_ns >= view.requested_at_ns:
            view.requested_at_ns = changed_at_ns
            view.request = status.request if status.HasField("request") else None
        if changed_at_ns >= view.changed_at_ns:
            view.state, view.reason, view.changed_at_ns = status.state, status.reason, changed_at_ns
            if status.state in FINAL:
                self._finish(view)

    def _finish(self, view: CheckpointView) -> None:
        checkpoint = view.checkpoint
        del self.open[checkpoint.checkpoint_id]
        finished = Finished(checkpoint, view.state, view.reason, view.changed_at_ns)
        self.history.add(finished)

    def evaluating(self, checkpoint_id: str) -> bool:
        view = self.open.get(checkpoint_id)
        return view is not None and view.state in ACTIVE

    def first_request_ms(self) -> int | None:
        """When the earliest evaluation in flight was asked for (ms); None: none in flight."""
        in_flight = self.active()
        if not in_flight:
            return None
        return min(view.requested_at_ns for view in in_flight) // 1_000_000

    def apply_summary(self, summary: ev.JobSummary, sent_at_ns: int | None = None) -> None:
        """`sent_at_ns`, when known, drops a summary sent before the evaluation now asked
        for (a backfill evaluates again the jobs an earlier evaluation did)."""
        view = self.open.get(summary.checkpoint_id)
        if view is None or (sent_at_ns is not None and sent_at_ns < view.requested_at_ns):
            return
        if summary.failed:
            # A redelivered job that failed (its endpoint already torn down, say) does not
            # undo the success it had before.
            if summary.job_id not in view.done:
                view.failures[summary.job_id] = summary.error or "job failed"
        else:
            view.done.add(summary.job_id)
            view.failures.pop(summary.job_id, None)

    def active(self) -> list[CheckpointView]:
        """The checkpoints that hold an endpoint (or are about to)."""
        return [v for v in self.open.values() if v.state in HOLDING]

    def converting(self) -> list[CheckpointView]:
        """Being converted, or converted and waiting for an endpoint."""
        return [v for v in self.open.values() if v.state == ev.CHECKPOINT_STATE_CONVERTING]

    def candidates(
        self, policies: PolicyBook, now_s: float | None = None, to_convert: bool = False
    ) -> list[CheckpointView]:
        """Checkpoints the policies select or a request asks for and nobody has started: the
        live ones first (a run's newest, still training, where its policy says live_first),
        then each run's in its order, the runs taking turns."""
        live, queues = self.queues(policies, now_s, to_convert)
        backfill = [view for turn in zip_longest(*queues.values()) for view in turn if view]
        return list(live.values()) + backfill

    def queues(
        self, policies: PolicyBook, now_s: float | None = None, to_convert: bool = False
    ) -> tuple[dict[str, CheckpointView], dict[str, list[CheckpointView]]]:
        """Per run: its live checkpoint (where it has one) and its other waiting ones in its
        policy's order; those an endpoint can load now, or (`to_convert`) those to convert."""
        now_s = time.time() if now_s is None else now_s
        live, queues = {}, {}
        waits = self._to_convert if to_convert else self._startable
        for run_id, views in sorted(self._open_by_run().items()):
            policy = policies.for_run(run_id)
            waiting = {v.checkpoint.step: v for v in views if waits(v, policies)}
            if policy is None or not waiting:
                continue
            started = [
                v.checkpoint.step for v in views if v.state != ev.CHECKPOINT_STATE_DISCOVERED
            ]
            order = policy.ordered(waiting, [*self.history.steps(run_id), *started])
            newest = max(views, key=lambda v: v.checkpoint.step)
            step = newest.checkpoint.step
            newest_finished = self.history.newest_step(run_id)
            newest_overall = newest_finished is None or newest_finished <= step
            if policy.live_first and newest_overall and step in waiting and _recent(newest, now_s):
                order.remove(step)
                live[run_id] = newest
            queues[run_id] = [waiting[step] for step in order]
        return live, queues

    @staticmethod
    def _wanted(view: CheckpointView, policies: PolicyBook) -> bool:
        policy = view.policy(policies)
        return policy is not None and view.wanted_by(policy)

    @classmethod
    def _startable(cls, view: CheckpointView, policies: PolicyBook) -> bool:
        """Waiting, in the form an endpoint loads: as it is, or converted."""
        if needs_conversion(view.checkpoint):
            ready = view.state == ev.CHECKPOINT_STATE_CONVERTING and view.served is not None
        else:
            ready = view.state == ev.CHECKPOINT_STATE_DISCOVERED
        return ready and cls._wanted(view, policies)

    @classmethod
    def _to_convert(cls, view: CheckpointView, policies: PolicyBook) -> bool:
        waiting = view.state == ev.CHECKPOINT_STATE_DISCOVERED
        return waiting and needs_conversion(view.checkpoint) and cls._wanted(view, policies)

    def waiting_in(self, run_id: str, policies: PolicyBook) -> bool:
        """Whether a checkpoint of the run waits for an endpoint, or is being converted for
        one (it may take over a warm endpoint of the run by a weight swap)."""
        waiting = (ev.CHECKPOINT_STATE_DISCOVERED, ev.CHECKPOINT_STATE_CONVERTING)
        return any(
            v.checkpoint.run_id == run_id and v.state in waiting and self._wanted(v, policies)
            for v in self.open.values()
        )

    def _open_by_run(self) -> dict[str, list[CheckpointView]]:
        by_run: dict[str, list[CheckpointView]] = {}
        for view in self.open.values():
            by_run.setdefault(view.checkpoint.run_id, []).append(view)
        return by_run

    def runs(self) -> dict[str, list[CheckpointView]]:
        """Every checkpoint's view by run, the finished ones rebuilt (for the control API)."""
        by_run = self._open_by_run()
        for run_id in self.history.runs():
            by_run.setdefault(run_id, []).extend(map(_view_of, self.history.each(run_id)))
        return by_run

    def progress(self) -> dict[str, tuple[int, int]]:
        """Per run: its finished checkpoints and all it has."""
        by_run = {run_id: (n, n) for run_id, n in self.history.counts().items()}
        for view in self.open.values():
            finished, known = by_run.get(view.checkpoint.run_id, (0, 0))
            by_run[view.checkpoint.run_id] = (finished, known + 1)
        return by_run
