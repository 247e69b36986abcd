"""The orchestrator's view of every checkpoint, rebuilt from the log at each start.

Applying the same record twice changes nothing, so replaying the checkpoints, status and
results topics after a restart gives back the view the orchestrator had when it died.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from itertools import zip_longest

from kiseki.core.status import is_lifecycle
from kiseki.orchestrator.conversion import needs_conversion
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


@dataclass
class Fleet:
    views: dict[str, CheckpointView] = field(default_factory=dict)

    def add_checkpoint(self, checkpoint: ev.CheckpointDiscovered) -> CheckpointView:
        view = self.views.get(checkpoint.checkpoint_id)
        if view is None:
            view = self.views[checkpoint.checkpoint_id] = CheckpointView(checkpoint)
        return view

    def apply_status(self, status: ev.CheckpointStatus) -> None:
        """Take a status change unless the view already holds a newer one (our own
        changes are applied when made, before the log plays them back)."""
        view = self.views.get(status.checkpoint_id)
        if view is None or not is_lifecycle(status):
            return
        changed_at_ns = status.changed_at.ToNanoseconds()
        discovered = status.state == ev.CHECKPOINT_STATE_DISCOVERED
        if discovered and changed_at_ns >= view.requested_at_ns:
            view.requested_at_ns = changed_at_ns
            view.request = status.request if status.HasField("request") else None
        if changed_at_ns >= view.changed_at_ns:
            view.state, view.reason, view.changed_at_ns = status.state, status.reason, changed_at_ns
            if status.state in FINAL:
                # A finished evaluation's job ids serve nothing (an evaluation asked for again
                # starts from none): without them a view costs ~0.9 kB, not ~8 kB with 50 jobs
                # (tools/bench/scheduling.py), and the fleet's history stays small.
                view.jobs, view.done, view.failures = set(), set(), {}

    def evaluating(self, checkpoint_id: str) -> bool:
        view = self.views.get(checkpoint_id)
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
        view = self.views.get(summary.checkpoint_id)
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
        return [v for v in self.views.values() if v.state in HOLDING]

    def converting(self) -> list[CheckpointView]:
        """Being converted, or converted and waiting for an endpoint."""
        return [v for v in self.views.values() if v.state == ev.CHECKPOINT_STATE_CONVERTING]

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
        for run_id, views in sorted(self.runs().items()):
            policy = policies.for_run(run_id)
            waiting = {v.checkpoint.step: v for v in views if waits(v, policies)}
            if policy is None or not waiting:
                continue
            evaluated = [
                v.checkpoint.step for v in views if v.state != ev.CHECKPOINT_STATE_DISCOVERED
            ]
            order = policy.ordered(waiting, evaluated)
            newest = max(views, key=lambda v: v.checkpoint.step)
            if policy.live_first and newest.checkpoint.step in waiting and _recent(newest, now_s):
                order.remove(newest.checkpoint.step)
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

    def runs(self) -> dict[str, list[CheckpointView]]:
        by_run: dict[str, list[CheckpointView]] = {}
        for view in self.views.values():
            by_run.setdefault(view.checkpoint.run_id, []).append(view)
        return by_run
