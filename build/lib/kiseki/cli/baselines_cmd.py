"""`kiseki baselines RUN --datasets DIR DATASET...`: compute a run's majority baselines from
the few-shot examples and store them (`kiseki up` does this itself for its runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.store import Store
from kiseki.evaluation.datasets import DEFAULT_NUM_FEW_SHOTS, DatasetError
from kiseki.report.baselines import baseline_rows, store_baselines


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "baselines")
    parser.add_argument("run")
    parser.add_argument("datasets", nargs="+", metavar="DATASET", help="dataset names")
    parser.add_argument("--datasets-dir", type=Path, required=True, help="<dir>/{train,test}/")
    parser.add_argument("--shots", type=int, default=DEFAULT_NUM_FEW_SHOTS)
    add_store_options(parser)
    parser.set_defaults(func=command(run))


def run(args: argparse.Namespace, store: Store) -> int:
    try:
        rows = baseline_rows(args.run, args.datasets_dir, args.datasets, args.shots)
    except DatasetError as error:
        raise CommandError(str(error)) from None
    store_baselines(store, rows)
    return emit(rows, args.format, "zero-shot: no few-shot examples, no majority baseline")
