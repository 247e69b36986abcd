"""Evaluation policies: which checkpoints of a run to evaluate, on what, in which order.

A policy file (JSON) maps run ids to policies; the key "*" applies to runs not named:

    {"budget": {"max_endpoints": 2},
     "runs": {"*": {"suites": ["jnli", "jamp"], "scoring_modes": ["generate"],
                    "select": "log", "order": "oldest", "num_few_shots": 4, "shards": 1}}}

`select` is "all", "every:N" (steps divisible by N) or "log" (the seed study's 0, 1..9,
10..90, 100..900, 1000, 2000, ...: steps whose digits after the first are all zero).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.v1 import events_pb2 as ev

_POLICY_KEYS = {"suites", "scoring_modes", "select", "order", "num_few_shots", "shards"}


class PolicyError(ValueError):
    """The policy file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class RunPolicy:
    suites: tuple[str, ...]
    scoring_modes: tuple[int, ...] = (ev.SCORING_MODE_GENERATE,)
    select: str = "all"
    order: str = "oldest"
    num_few_shots: int = 4
    shards: int = 1

    def selects(self, step: int) -> bool:
        if self.select == "all":
            return True
        if self.select == "log":
            digits = str(step)
            return step >= 0 and set(digits[1:]) <= {"0"}
        every = int(self.select.removeprefix("every:"))
        return step % every == 0

    def ordered(self, steps: Iterable[int]) -> list[int]:
        return sorted(steps, reverse=self.order == "newest")


@dataclass(frozen=True)
class PolicyBook:
    policies: Mapping[str, RunPolicy]
    max_endpoints: int = 1
    defaults: RunPolicy | None = field(default=None)

    def for_run(self, run_id: str) -> RunPolicy | None:
        return self.policies.get(run_id, self.defaults)


def _run_policy(raw: Mapping[str, Any], where: str) -> RunPolicy:
    unknown = set(raw) - _POLICY_KEYS
    if unknown:
        raise PolicyError(
            f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(_POLICY_KEYS)}"
        )
    if not raw.get("suites"):
        raise PolicyError(f"{where}: 'suites' must list at least one dataset")
    modes = raw.get("scoring_modes", ["generate"])
    if not set(modes) <= set(SCORING_MODES):
        raise PolicyError(
            f"{where}: scoring_modes must be among {sorted(SCORING_MODES)}, got {modes}"
        )
    select = str(raw.get("select", "all"))
    if select not in ("all", "log") and not (
        select.startswith("every:")
        and select.removeprefix("every:").isdigit()
        and int(select.removeprefix("every:")) > 0
    ):
        raise PolicyError(f"{where}: select must be 'all', 'log' or 'every:N', got {select!r}")
    order = str(raw.get("order", "oldest"))
    if order not in ("oldest", "newest"):
        raise PolicyError(f"{where}: order must be 'oldest' or 'newest', got {order!r}")
    shards, shots = int(raw.get("shards", 1)), int(raw.get("num_few_shots", 4))
    if shards < 1 or shots < 0:
        raise PolicyError(f"{where}: shards must be ≥ 1 and num_few_shots ≥ 0")
    return RunPolicy(
        suites=tuple(raw["suites"]),
        scoring_modes=tuple(SCORING_MODES[m] for m in modes),
        select=select,
        order=order,
        num_few_shots=shots,
        shards=shards,
    )


def parse_policies(raw: Mapping[str, Any], source: str = "policy") -> PolicyBook:
    unknown = set(raw) - {"budget", "runs"}
    if unknown:
        raise PolicyError(f"{source}: unknown keys {sorted(unknown)}; allowed ['budget', 'runs']")
    budget = raw.get("budget", {})
    max_endpoints = int(budget.get("max_endpoints", 1))
    if max_endpoints < 1:
        raise PolicyError(f"{source}: budget.max_endpoints must be ≥ 1")
    runs = {
        run_id: _run_policy(policy, f"{source}: runs.{run_id}")
        for run_id, policy in raw.get("runs", {}).items()
    }
    defaults = runs.pop("*", None)
    return PolicyBook(policies=runs, max_endpoints=max_endpoints, defaults=defaults)


def load_policies(path: Path) -> PolicyBook:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise PolicyError(f"{path}: {error}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a JSON object")
    return parse_policies(raw, str(path))
