"""`kiseki baselines RUN --datasets DIR DATASET...`: compute a run's majority baselines from
the few-shot examples and store them (`kiseki up` does this itself for its runs); with
`--policy`, over the split, samples and few-shots that the run's policy scores."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.store import Store
from kiseki.evaluation.datasets import DEFAULT_NUM_FEW_SHOTS, DatasetError
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.settings import EvalSettings
from kiseki.orchestrator.policy import PolicyError
from kiseki.orchestrator.policy_file import load_policies
from kiseki.report.baselines import baseline_rows, store_baselines


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "baselines")
    parser.add_argument("run")
    parser.add_argument("datasets", nargs="+", metavar="DATASET", help="dataset names")
    parser.add_argument("--datasets-dir", type=Path, required=True, help="<dir>/{train,test}/")
    parser.add_argument("--shots", type=int, default=DEFAULT_NUM_FEW_SHOTS)
    parser.add_argument(
        "--policy", type=Path, help="take each dataset's settings from this policy's run instead"
    )
    add_store_options(parser)
    parser.set_defaults(func=command(run))


def _settings(args: argparse.Namespace) -> dict[str, EvalSettings]:
    if args.policy is None:
        return {name: EvalSettings(num_few_shots=args.shots) for name in args.datasets}
    policy = load_policies(args.policy, args.datasets_dir).for_run(args.run)
    if policy is None:
        raise PolicyError(f"{args.policy}: no policy for run {args.run!r}")
    return {name: policy.settings_for(name) for name in args.datasets}


def run(args: argparse.Namespace, store: Store) -> int:
    try:
        settings = _settings(args)
        rows = baseline_rows(args.run, args.datasets_dir, settings)
    except (DatasetError, MetricUnavailable, PolicyError) as error:
        raise CommandError(str(error)) from None
    store_baselines(store, rows)
    return emit(rows, args.format, "zero-shot: no few-shot examples, no majority baseline")
