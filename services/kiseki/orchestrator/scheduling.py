"""The fleet's waiting checkpoints as the GPU planner's demands, and its picks back as views:
what the loop (and tools/bench/scheduling.py, on a simulated clock) starts each tick."""

from __future__ import annotations

import time

from kiseki.orchestrator.gpu_planner import Demand, GpuPlanner, Held
from kiseki.orchestrator.policy import PolicyBook
from kiseki.orchestrator.state import CheckpointView, Fleet


class Scheduler:
    def __init__(self, policies: PolicyBook) -> None:
        self.policies = policies
        self.planner = GpuPlanner(policies.budget, self._weight)

    def _weight(self, run_id: str) -> float:
        policy = self.policies.for_run(run_id)
        return 1.0 if policy is None else policy.weight

    def _demand(self, view: CheckpointView, live: bool = False) -> Demand:
        policy = view.policy(self.policies)
        pool, units = self.policies.budget.cost(policy.serving) if policy else ("", 1)
        checkpoint = view.checkpoint
        return Demand(checkpoint.checkpoint_id, checkpoint.run_id, units, pool, live)

    def pick(self, fleet: Fleet, now_s: float | None = None) -> list[CheckpointView]:
        """The waiting checkpoints to start now, within the budget of what is running."""
        now_s = time.time() if now_s is None else now_s
        active = fleet.active()
        if len(active) >= self.policies.budget.max_endpoints:
            return []  # nothing can start: spare ordering every waiting checkpoint
        live, queues = fleet.queues(self.policies, now_s)
        room = self.policies.budget.max_endpoints - len(active)  # no run gets more than this
        demands = {
            run_id: ([self._demand(live[run_id], live=True)] if run_id in live else [])
            + [self._demand(view) for view in queue[:room]]
            for run_id, queue in queues.items()
        }
        held = []
        for view in active:
            demand = self._demand(view)
            held.append(Held(demand.run_id, demand.units, demand.pool))
        granted = self.planner.plan(demands, held, now_s)
        return [fleet.views[demand.key] for demand in granted]
