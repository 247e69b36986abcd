"""The GPU budget's planner: never over the budget, no run starves, an 8-GPU endpoint waits
for 8 free GPUs without blocking small ones forever, and a live checkpoint goes ahead of the
backfill queue (never of endpoints already running)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kiseki.orchestrator.budget import GpuBudget
from kiseki.orchestrator.gpu_planner import Demand, GpuPlanner, Held
from kiseki.orchestrator.policy import PolicyBook, RunPolicy
from kiseki.orchestrator.scheduling import Scheduler
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev


def _queue(run: str, count: int, units: int = 1, pool: str = "") -> list[Demand]:
    return [Demand(f"{run}-{i}", run, units, pool) for i in range(count)]


@given(
    sizes=st.lists(st.sampled_from([0, 1, 2, 4, 8]), min_size=1, max_size=6),
    held=st.lists(st.tuples(st.integers(0, 5), st.sampled_from([1, 2])), max_size=6),
    pooled=st.booleans(),
    max_endpoints=st.integers(1, 20),
)
def test_never_over_the_budget(
    sizes: list[int], held: list[tuple[int, int]], pooled: bool, max_endpoints: int
) -> None:
    pools = {"h100": 8, "a100": 4} if pooled else {}
    budget = GpuBudget(max_endpoints, None if pooled else 12, pools)
    pool_of = {i: ("h100" if i % 2 else "a100") if pooled else "" for i in range(6)}
    queues = {f"r{i}": _queue(f"r{i}", 5, units, pool_of[i]) for i, units in enumerate(sizes)}
    running: list[Held] = []
    for run, units in held:  # what is already running, itself within the budget
        pool = pool_of[run]
        used = sum(h.units for h in running if h.pool == pool)
        if used + units <= budget.capacity()[pool] and len(running) < max_endpoints:
            running.append(Held(f"r{run}", units, pool))
    granted = GpuPlanner(budget).plan(queues, running, now_s=0.0)
    everything = running + [Held(d.run_id, d.units, d.pool) for d in granted]
    assert len(everything) <= max_endpoints
    assert sum(h.units for h in everything) <= budget.total()
    for pool, capacity in budget.capacity().items():
        assert sum(h.units for h in everything if h.pool == pool) <= capacity


def test_endpoints_are_the_budget_when_no_gpus_are_given() -> None:
    planner = GpuPlanner(GpuBudget(max_endpoints=2))
    queues = {"a": _queue("a", 3, units=8), "b": _queue("b", 3)}
    assert len(planner.plan(queues, [], 0.0)) == 2
    assert planner.plan(queues, [Held("a", 1), Held("b", 1)], 0.0) == []


def _rounds(planner: GpuPlanner, queues: dict[str, list[Demand]], rounds: int) -> list[str]:
    """Each round the oldest endpoint finishes and the planner fills what is free."""
    running: list[Demand] = []
    started: list[str] = []
    for now in range(rounds):
        waiting = {run: [d for d in q if d.key not in started] for run, q in queues.items()}
        held = [Held(d.run_id, d.units, d.pool) for d in running]
        granted = planner.plan(waiting, held, float(now))
        started += [d.key for d in granted]
        running = running[1:] + granted if running else granted
    return started


def test_no_run_starves_the_minimum_share_goes_to_a_light_run_first() -> None:
    weights = {"heavy": 100.0, "light": 1.0}
    queues = {"heavy": _queue("heavy", 50), "light": _queue("light", 50)}
    held = [Held("heavy", 1)] * 4 + [Held("light", 1)]
    without = GpuPlanner(GpuBudget(8, gpus=6), weights.__getitem__)
    (first,) = without.plan(queues, held, 0.0)
    assert first.run_id == "heavy"  # 4/100 GPUs per weight beside light's 1/1
    floor = GpuPlanner(GpuBudget(8, gpus=6, min_share=0.5), weights.__getitem__)
    (first,) = floor.plan(queues, held, 0.0)
    assert first.run_id == "light"  # below its floor of 6 x 0.5 / 2 = 1.5 GPUs
    started = _rounds(floor, queues, rounds=40)
    assert sum(key.startswith("light") for key in started) >= 10


def test_a_big_endpoint_waits_for_8_free_gpus_without_blocking_small_ones_forever() -> None:
    budget = GpuBudget(max_endpoints=16, gpus=8, reserve_after_s=10.0)
    planner = GpuPlanner(budget)
    queues = {"big": _queue("big", 3, units=8), "small": _queue("small", 100)}
    running = [Held("small", 1)] * 7
    # Before it has waited long: the one free GPU is packed with a small endpoint.
    assert [d.run_id for d in planner.plan(queues, running, now_s=0.0)] == ["small"]
    assert [d.run_id for d in planner.plan(queues, running, now_s=5.0)] == ["small"]
    # Waited long enough: freed GPUs are kept for it, however many small ones wait.
    assert planner.plan(queues, running, now_s=10.0) == []
    assert planner.plan(queues, running[:2], now_s=11.0) == []
    (big,) = planner.plan(queues, [], now_s=12.0)
    assert big.key == "big-0"
    # Started, it reserves nothing more: small ones take what the next big one cannot use.
    rest = {"big": queues["big"][1:], "small": queues["small"]}
    assert planner.plan(rest, [], now_s=13.0)[0].run_id == "big"
    assert all(d.run_id == "small" for d in planner.plan(rest, [Held("big", 8)], 13.0))
    budget16 = GpuBudget(max_endpoints=16, gpus=12, reserve_after_s=10.0)
    packed = GpuPlanner(budget16).plan(rest, [Held("big", 8)], 14.0)
    assert [d.run_id for d in packed] == ["small"] * 4


def test_a_live_checkpoint_goes_ahead_of_the_backfill_but_stops_nothing_running() -> None:
    planner = GpuPlanner(GpuBudget(max_endpoints=8, gpus=4))
    live = Demand("a-live", "a", 1, live=True)
    queues = {"a": [live, *_queue("a", 5)], "b": _queue("b", 5)}
    full = [Held("b", 1)] * 4
    assert planner.plan(queues, full, 0.0) == []  # nothing is stopped for it
    # a holds more than b, yet its live checkpoint takes the GPU that frees first.
    granted = planner.plan(queues, [Held("a", 1), Held("a", 1), Held("b", 1)], 1.0)
    assert granted == [live]


def test_the_scheduler_plans_the_fleet_with_each_runs_gpus() -> None:
    big = RunPolicy(suites=("x",), serving=ServingResources(gpus=8), live_first=True)
    small = RunPolicy(suites=("x",), serving=ServingResources(gpus=1))
    policies = PolicyBook({"big": big}, defaults=small, budget=GpuBudget(16, gpus=10))
    fleet = Fleet()
    for run, steps in (("big", (0, 1, 2)), ("small", range(5))):
        for step in steps:
            checkpoint = ev.CheckpointDiscovered(
                checkpoint_id=f"{run}-{step}", run_id=run, step=step
            )
            checkpoint.discovered_at.FromSeconds(1000 + step)
            fleet.add_checkpoint(checkpoint)
    picked = [v.checkpoint.checkpoint_id for v in Scheduler(policies).pick(fleet, now_s=1010.0)]
    assert picked[0] == "big-2"  # the live one, newest of a run still training
    assert sorted(picked[1:]) == ["small-0", "small-1"]  # 8 + 2 = the 10 GPUs


def test_the_backfill_leaves_the_live_headroom_free() -> None:
    planner = GpuPlanner(GpuBudget(max_endpoints=16, gpus=8, live_headroom=2))
    queues = {"big": _queue("big", 3, units=4), "small": _queue("small", 10)}
    granted = planner.plan(queues, [], 0.0)
    assert sum(d.units for d in granted) == 6  # 4 + 1 + 1: two GPUs kept for live work
    live = Demand("small-live", "small", 1, live=True)
    held = [Held(d.run_id, d.units) for d in granted]
    assert planner.plan({"small": [live, *queues["small"]]}, held, 1.0)[0] == live
