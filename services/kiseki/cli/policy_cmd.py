"""`kiseki policy check FILE [--datasets DIR]`: validate a policy (kiseki's JSON/YAML or a
team's llm-jp-eval configuration) and print what it resolves to, per run, dataset and scoring
mode: the split, samples, few-shots, generation budget, post-processing, template, the
settings' digest, and the combinations that will be skipped or fail (exit 2 when any fails)."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import FORMATS, emit
from kiseki.core.scoring_modes import SCORING_MODES, scoring_mode_name
from kiseki.evaluation.datasets import DatasetError
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.pipeline import Task, load_task
from kiseki.evaluation.prompts import TemplateError
from kiseki.evaluation.settings import EvalSettings
from kiseki.orchestrator.policy import PolicyBook, PolicyError, RunPolicy
from kiseki.orchestrator.policy_file import load_policies

LOGLIKELIHOOD = scoring_mode_name(SCORING_MODES["loglikelihood"])


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = command_parser(subparsers, "policy")
    commands = policy.add_subparsers(dest="policy_command", required=True)
    check = commands.add_parser("check", help="validate a policy and print what it resolves to")
    check.add_argument("file", type=Path)
    check.add_argument("--datasets", type=Path, help="the datasets directory it will read")
    check.add_argument("--format", choices=FORMATS, default="table")
    check.set_defaults(func=run)


Loader = Callable[[str, EvalSettings], Task]


def _status(policy: RunPolicy, dataset: str, mode: str, load: Loader | None) -> dict[str, Any]:
    settings = policy.settings_for(dataset)
    row: dict[str, Any] = {
        "dataset": dataset,
        "mode": mode,
        "data_type": settings.data_type,
        "samples": settings.max_num_samples,
        "few_shots": settings.num_few_shots,
        "max_new_tokens": "-",
        "postprocess": settings.postprocess,
        "template": "custom" if settings.custom_prompt_template else settings.prompt_template,
        "digest": settings.digest(),
        "status": "ok",
    }
    if load is None:
        return row
    try:
        task = load(dataset, settings)
        if task.samples:
            task.prompt(task.samples[0])  # a custom template's fields are checked here
    except (DatasetError, MetricUnavailable, TemplateError) as error:
        return row | {"status": f"fails: {error}"}
    row |= {"samples": len(task.samples), "few_shots": len(task.few_shots)}
    row["max_new_tokens"] = task.max_new_tokens
    if mode == LOGLIKELIHOOD and not task.dataset.label_list:
        row["status"] = "skipped: no label_list"
    return row


def plan_rows(book: PolicyBook, datasets: Path | None) -> list[dict[str, Any]]:
    """One row per run (or "*"), dataset and scoring mode the policy asks for."""
    runs = [*book.policies.items(), *([("*", book.defaults)] if book.defaults else [])]
    # Each dataset's files are read once, whatever the modes and runs that share its settings.
    load = None if datasets is None else functools.cache(functools.partial(load_task, datasets))
    return [
        {"run": run_id} | _status(policy, dataset, scoring_mode_name(mode), load)
        for run_id, policy in runs
        for dataset in policy.suites
        for mode in policy.scoring_modes
    ]


def run(args: argparse.Namespace) -> int:
    if args.datasets is not None and not args.datasets.is_dir():
        raise CommandError(f"{args.datasets}: no such datasets directory")
    try:
        book = load_policies(args.file, args.datasets)
    except PolicyError as error:
        raise CommandError(str(error)) from None
    rows = plan_rows(book, args.datasets)
    emit(rows, args.format, f"{args.file}: the policy names no run")
    return 2 if any(row["status"].startswith("fails") for row in rows) else 0
