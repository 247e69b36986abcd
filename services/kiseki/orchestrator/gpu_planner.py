"""Which waiting endpoints start now, within the GPU budget. Pure: no I/O, no clock of its own.

Each run offers its waiting checkpoints in its own order (its live one first). Every round the
planner takes the head of the run that is owed most: a live checkpoint before any backfill,
then a run below its minimum share, then the run with the fewest units per weight. What fits
starts; a run whose head does not fit waits while smaller endpoints pack what is left, and
once its head has waited `reserve_after_s` (a live head: at once) it reserves its pool: the
units that free up there are kept for it instead of going to others, so an 8-GPU endpoint
neither blocks small ones forever nor waits behind them forever. The backfill leaves
`live_headroom` units free for live checkpoints. Running endpoints are never stopped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kiseki.orchestrator.budget import GpuBudget


@dataclass(frozen=True)
class Demand:
    key: str  # the checkpoint id
    run_id: str
    units: int  # GPUs (or 1 where the budget counts endpoints)
    pool: str = ""
    live: bool = False


@dataclass(frozen=True)
class Held:
    run_id: str
    units: int
    pool: str = ""


class GpuPlanner:
    def __init__(self, budget: GpuBudget, weight: Callable[[str], float] = lambda _: 1.0) -> None:
        self.budget, self.weight = budget, weight
        # Since when each run's head has been blocked (seconds, the caller's clock).
        self.blocked_since: dict[str, float] = {}

    def plan(
        self, queues: Mapping[str, Sequence[Demand]], held: Sequence[Held], now_s: float
    ) -> list[Demand]:
        """The demands to start now, in the order they were granted."""
        budget = self.budget
        free = budget.capacity()
        usage: dict[str, int] = defaultdict(int)
        for endpoint in held:
            free[endpoint.pool] = free.get(endpoint.pool, 0) - endpoint.units
            usage[endpoint.run_id] += endpoint.units
        total_free = budget.total() - sum(e.units for e in held)
        endpoints_left = budget.max_endpoints - len(held)
        owed = self._owed(queues, usage)
        heads = {run: 0 for run, queue in queues.items() if queue}
        reserved: dict[str, int] = {}
        granted: list[Demand] = []
        while heads and endpoints_left > 0:
            run = min(heads, key=lambda r: self._rank(queues[r][heads[r]], usage, owed))
            demand = queues[run][heads[run]]
            room = free.get(demand.pool, 0) - (0 if demand.live else reserved.get(demand.pool, 0))
            headroom = 0 if demand.live else budget.live_headroom
            if demand.units <= min(room, total_free - headroom):
                granted.append(demand)
                free[demand.pool] -= demand.units
                total_free -= demand.units
                endpoints_left -= 1
                usage[run] += demand.units
                self.blocked_since.pop(run, None)
                heads[run] += 1
                if heads[run] == len(queues[run]):
                    del heads[run]
                continue
            since = self.blocked_since.setdefault(run, now_s)
            aged = demand.live or now_s - since >= budget.reserve_after_s
            if aged and demand.pool not in reserved:
                reserved[demand.pool] = demand.units
            del heads[run]  # a run's endpoints are all its serving size: none of it fits now
        waiting = {run for run, queue in queues.items() if queue}
        self.blocked_since = {r: s for r, s in self.blocked_since.items() if r in waiting}
        return granted

    def _owed(
        self, queues: Mapping[str, Sequence[Demand]], usage: Mapping[str, int]
    ) -> dict[str, float]:
        """Each run's floor: the minimum share split evenly among runs with work or units
        (evenly, not by weight: the floor is what keeps a light run from starving)."""
        runs = {r for r, q in queues.items() if q} | {r for r, u in usage.items() if u}
        floor = self.budget.min_share * self.budget.total() / max(len(runs), 1)
        return dict.fromkeys(runs, floor)

    def _rank(
        self, demand: Demand, usage: Mapping[str, int], owed: Mapping[str, float]
    ) -> tuple[bool, bool, float, str]:
        run = demand.run_id
        used = usage.get(run, 0)
        return (not demand.live, used >= owed.get(run, 0.0), used / self.weight(run), run)
