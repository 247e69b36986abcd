"""Evaluation policies: which checkpoints of a run to evaluate, on what, in which order.

A policy file (JSON) maps run ids to policies; the key "*" applies to runs not named:

    {"budget": {"max_endpoints": 2},
     "runs": {"*": {"suites": ["jnli", "jamp"], "scoring_modes": ["generate"],
                    "select": "log", "order": "oldest", "num_few_shots": 4, "shards": 1}}}

`keep_converted` (default false) keeps the HuggingFace copy of a converted checkpoint
(Megatron-LM, DeepSpeed) after its evaluation instead of deleting it.

A run's `serving` (over the policy's top-level `serving`) says what its endpoints get
(kiseki.orchestrator.serving_policy), its `weight` (default 1) its share of the `budget`
(kiseki.orchestrator.budget: GPUs in all and per node pool, a minimum share per run).

`select` is "all", "every:N" (steps divisible by N) or "log" (the seed study's 0, 1..9,
10..90, 100..900, 1000, 2000, ...: steps whose digits after the first are all zero).

A run's policy also takes llm-jp-eval's evaluation settings (kiseki.evaluation.settings:
data_type, max_num_samples, num_few_shots, output_length_delta, postprocess and its patterns,
templates), and "datasets" maps a dataset to the settings that differ for it:

    {"suites": ["jsquad", "mawps"], "data_type": "dev", "max_num_samples": 100,
     "datasets": {"jsquad": {"postprocess": "llm-jp-eval-1.4"},
                  "mawps": {"postprocess": "v2", "answer_pattern_id": "latex_boxed_jp"}}}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.evaluation.settings import KEYS as SETTINGS_KEYS
from kiseki.evaluation.settings import EvalSettings, SettingsError
from kiseki.orchestrator.budget import GpuBudget, check_fits, parse_budget
from kiseki.orchestrator.ordering import ORDERS, is_log_spaced, ordered
from kiseki.orchestrator.policy_errors import PolicyError
from kiseki.orchestrator.serving_policy import ServingResources, parse_serving
from kiseki.v1 import events_pb2 as ev

_POLICY_KEYS = {
    "suites",
    "scoring_modes",
    "select",
    "order",
    "live_first",
    "shards",
    "datasets",
    "keep_converted",
    "serving",
    "weight",
}
__all__ = ["PolicyBook", "PolicyError", "RunPolicy", "parse_policies"]


@dataclass(frozen=True)
class RunPolicy:
    suites: tuple[str, ...]
    scoring_modes: tuple[int, ...] = (ev.SCORING_MODE_GENERATE,)
    select: str = "all"
    order: str = "oldest"
    # The newest checkpoint of a run still training (discovered within LIVE_WINDOW_S) goes
    # ahead of the run's backfill: the team watching it wants the latest score now.
    live_first: bool = False
    shards: int = 1
    # Keep a converted (Megatron-LM / DeepSpeed) checkpoint's HF copy after its evaluation.
    keep_converted: bool = False
    settings: EvalSettings = field(default_factory=EvalSettings)
    # Per dataset: the run's settings with that dataset's own keys applied.
    dataset_settings: Mapping[str, EvalSettings] = field(default_factory=dict)
    serving: ServingResources = field(default_factory=ServingResources)
    weight: float = 1.0  # the run's share of the GPU budget against the others'

    @property
    def num_few_shots(self) -> int:
        return self.settings.num_few_shots

    def settings_for(self, dataset: str) -> EvalSettings:
        return self.dataset_settings.get(dataset, self.settings)

    def selects(self, step: int) -> bool:
        if self.select == "all":
            return True
        if self.select == "log":
            return is_log_spaced(step)
        every = int(self.select.removeprefix("every:"))
        return step % every == 0

    def ordered(self, steps: Iterable[int], evaluated: Iterable[int] = ()) -> list[int]:
        return ordered(self.order, steps, evaluated)


@dataclass(frozen=True)
class PolicyBook:
    policies: Mapping[str, RunPolicy]
    defaults: RunPolicy | None = field(default=None)
    budget: GpuBudget = field(default_factory=GpuBudget)

    @property
    def max_endpoints(self) -> int:
        return self.budget.max_endpoints

    def for_run(self, run_id: str) -> RunPolicy | None:
        return self.policies.get(run_id, self.defaults)

    def serving_backends(self) -> set[str]:
        """The backends runs name in their serving section."""
        runs = [*self.policies.values(), *([self.defaults] if self.defaults else [])]
        return {run.serving.backend for run in runs if run.serving.backend}


def _settings(raw: Mapping[str, Any], where: str) -> tuple[EvalSettings, dict[str, EvalSettings]]:
    """The run's settings and each named dataset's (its keys over the run's)."""
    try:
        run = EvalSettings().updated({k: v for k, v in raw.items() if k in SETTINGS_KEYS}, where)
        sections = raw.get("datasets") or {}
        if not isinstance(sections, Mapping):
            raise PolicyError(f"{where}.datasets: expected an object of dataset: settings")
        per_dataset = {}
        for name, section in sections.items():
            if not isinstance(section, Mapping):
                raise PolicyError(f"{where}.datasets.{name}: expected an object of settings")
            settings = run.updated(section, f"{where}.datasets.{name}")
            forced = "num_few_shots" in section
            per_dataset[name] = dataclasses.replace(settings, few_shots_forced=forced)
    except SettingsError as error:
        raise PolicyError(str(error)) from None
    return run, per_dataset


def _weight(raw: Mapping[str, Any], where: str) -> float:
    weight = raw.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
        raise PolicyError(f"{where}.weight: expected a number > 0, got {weight!r}")
    return float(weight)


def _run_policy(
    raw: Mapping[str, Any], where: str, serving: ServingResources | None = None
) -> RunPolicy:
    unknown = set(raw) - _POLICY_KEYS - SETTINGS_KEYS
    if unknown:
        allowed = sorted(_POLICY_KEYS | SETTINGS_KEYS)
        raise PolicyError(f"{where}: unknown keys {sorted(unknown)}; allowed {allowed}")
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
    if order not in ORDERS:
        raise PolicyError(f"{where}: order must be one of {list(ORDERS)}, got {order!r}")
    live_first = raw.get("live_first", False)
    if not isinstance(live_first, bool):
        raise PolicyError(f"{where}.live_first: expected true or false, got {live_first!r}")
    shards = raw.get("shards", 1)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise PolicyError(f"{where}.shards: expected an integer ≥ 1, got {shards!r}")
    keep_converted = raw.get("keep_converted", False)
    if not isinstance(keep_converted, bool):
        raise PolicyError(f"{where}.keep_converted: expected true or false, got {keep_converted!r}")
    settings, dataset_settings = _settings(raw, where)
    unlisted = sorted(set(dataset_settings) - set(raw["suites"]))
    if unlisted:
        raise PolicyError(f"{where}.datasets: {unlisted} are not among the suites")
    return RunPolicy(
        suites=tuple(raw["suites"]),
        scoring_modes=tuple(SCORING_MODES[m] for m in modes),
        select=select,
        order=order,
        live_first=live_first,
        shards=shards,
        keep_converted=keep_converted,
        settings=settings,
        dataset_settings=dataset_settings,
        serving=parse_serving(raw.get("serving"), f"{where}.serving", serving),
        weight=_weight(raw, where),
    )


def parse_policies(raw: Mapping[str, Any], source: str = "policy") -> PolicyBook:
    unknown = set(raw) - {"budget", "runs", "serving"}
    if unknown:
        raise PolicyError(
            f"{source}: unknown keys {sorted(unknown)}; allowed ['budget', 'runs', 'serving']"
        )
    budget = parse_budget(raw.get("budget", {}), source)
    serving = parse_serving(raw.get("serving"), f"{source}: serving")
    runs = {
        run_id: _run_policy(policy, f"{source}: runs.{run_id}", serving)
        for run_id, policy in raw.get("runs", {}).items()
    }
    for run_id, policy in runs.items():
        check_fits(budget, policy.serving, f"{source}: runs.{run_id}")
    defaults = runs.pop("*", None)
    return PolicyBook(policies=runs, defaults=defaults, budget=budget)
