"""The policy's `budget`: what the orchestrator may ask the cluster for at once.

    {"budget": {"gpus": 64, "pools": {"h100": 48, "a100": 16}, "min_share": 0.25,
                "reserve_after_s": 1800, "live_headroom": 2}}

Without `gpus` or `pools` the budget counts endpoints (`max_endpoints`, default 1), as before.
With them an endpoint costs its run's `serving.gpus`, `max_endpoints` (default: the GPU total)
still caps how many run at once, and each run's `weight` (default 1) sets its share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kiseki.orchestrator.policy_errors import PolicyError
from kiseki.orchestrator.serving_policy import ServingResources

_KEYS = ("max_endpoints", "gpus", "pools", "min_share", "reserve_after_s", "live_headroom")
# A 172B endpoint blocked this long reserves its pool: small endpoints finishing in that pool
# leave their GPUs to it instead of being replaced (30 min: a few small checkpoints' load and
# evaluation, short beside the hour the 172B one itself takes).
RESERVE_AFTER_S = 1800.0


@dataclass(frozen=True)
class GpuBudget:
    max_endpoints: int = 1
    gpus: int | None = None  # GPUs in all; None with no pools: the budget counts endpoints
    pools: Mapping[str, int] = field(default_factory=dict)  # GPUs per node pool
    # The fraction of the GPUs split evenly among the runs with work as a floor: a run below
    # its part goes before any run above it, so no run starves behind heavier ones.
    min_share: float = 0.0
    reserve_after_s: float = RESERVE_AFTER_S
    # Units the backfill leaves free for live checkpoints: without them a live checkpoint of
    # a small run waits for a 172B backfill endpoint to finish (~30 min) once the backfill
    # fills the budget (tools/bench/scheduling.py: p95 1.35 checkpoint intervals with 0, the
    # 150M run's; under one with 2).
    live_headroom: int = 0

    @property
    def counts_gpus(self) -> bool:
        return self.gpus is not None or bool(self.pools)

    def capacity(self) -> dict[str, int]:
        """Units per pool ("" when there are no pools): GPUs, or endpoints."""
        if self.pools:
            return dict(self.pools)
        return {"": self.max_endpoints if self.gpus is None else self.gpus}

    def total(self) -> int:
        return self.gpus if self.gpus is not None else sum(self.capacity().values())

    def cost(self, serving: ServingResources) -> tuple[str, int]:
        """The pool an endpoint's units come from and how many it takes."""
        if not self.counts_gpus:
            return "", 1
        return (serving.node_pool if self.pools else ""), serving.budget_gpus


def _positive(value: object, where: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PolicyError(f"{where}: expected an integer ≥ {least}, got {value!r}")
    return value


def parse_budget(raw: object, source: str) -> GpuBudget:
    where = f"{source}: budget"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: expected an object")
    unknown = set(raw) - set(_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_KEYS)}")
    gpus = None if raw.get("gpus") is None else _positive(raw["gpus"], f"{where}.gpus")
    pools_raw: Any = raw.get("pools") or {}
    if not isinstance(pools_raw, Mapping):
        raise PolicyError(f"{where}.pools: expected an object of pool: GPUs")
    pools = {str(k): _positive(v, f"{where}.pools.{k}") for k, v in pools_raw.items()}
    default_endpoints = gpus or sum(pools.values()) or 1
    max_endpoints = _positive(raw.get("max_endpoints", default_endpoints), f"{where}.max_endpoints")
    min_share = raw.get("min_share", 0.0)
    if isinstance(min_share, bool) or not isinstance(min_share, int | float):
        raise PolicyError(f"{where}.min_share: expected a fraction in [0, 1], got {min_share!r}")
    if not 0.0 <= min_share <= 1.0:
        raise PolicyError(f"{where}.min_share: expected a fraction in [0, 1], got {min_share!r}")
    reserve = raw.get("reserve_after_s", RESERVE_AFTER_S)
    if isinstance(reserve, bool) or not isinstance(reserve, int | float) or reserve < 0:
        raise PolicyError(f"{where}.reserve_after_s: expected seconds ≥ 0, got {reserve!r}")
    headroom = raw.get("live_headroom", 0)
    if isinstance(headroom, bool) or not isinstance(headroom, int) or headroom < 0:
        raise PolicyError(f"{where}.live_headroom: expected an integer ≥ 0, got {headroom!r}")
    return GpuBudget(max_endpoints, gpus, pools, float(min_share), float(reserve), headroom)


def check_fits(budget: GpuBudget, serving: ServingResources, where: str) -> None:
    """A run whose endpoint could never fit would wait forever: refuse it now."""
    if not budget.counts_gpus:
        return
    if budget.pools and serving.node_pool not in budget.pools:
        raise PolicyError(
            f"{where}.serving.node_pool: {serving.node_pool!r} is not among the budget's"
            f" pools {sorted(budget.pools)}"
        )
    pool, units = budget.cost(serving)
    room = min(budget.capacity()[pool], budget.total())
    if units > room:
        raise PolicyError(f"{where}.serving.gpus: {units} GPUs, but the budget has {room}")
