"""`kiseki scores RUN [--dataset D | --category C] [--mode M]`: scores per checkpoint."""

from __future__ import annotations

import argparse

from kiseki.cli import command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.core.store import Store
from kiseki.report import queries


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "scores")
    parser.add_argument("run")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--dataset", default="", help="one dataset's scores (all its metrics)")
    which.add_argument(
        "--category", default="", help="one category (or AVG); --category all for every one"
    )
    parser.add_argument("--mode", choices=list(SCORING_MODES), default="", help="one scoring mode")
    add_store_options(parser)
    parser.set_defaults(func=command(run))


def run(args: argparse.Namespace, store: Store) -> int:
    if args.category:
        category = "" if args.category == "all" else args.category
        rows = queries.category_scores(store, args.run, category, args.mode)
    else:
        rows = queries.dataset_scores(store, args.run, args.dataset, args.mode)
    what = " ".join(
        f"{name}={value}"
        for name, value in (
            ("dataset", args.dataset),
            ("category", args.category),
            ("mode", args.mode),
        )
        if value
    )
    return emit(rows, args.format, f"no scores for run {args.run} {what}".strip())
