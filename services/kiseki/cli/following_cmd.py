"""`kiseki following RUN... (--dataset D | --category C) [--summary] [--plot P]`: the
instruction-following rate and the score against training tokens, several runs at once."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.store import Store
from kiseki.report import following


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "following")
    parser.add_argument("runs", nargs="+", metavar="RUN")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--dataset", default="")
    which.add_argument("--category", default="")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="per run: when the rate reached 95 %% and whether the score sat at the baseline",
    )
    parser.add_argument("--plot", type=Path, help="write rate, score and baseline (PNG)")
    add_store_options(parser)
    parser.set_defaults(func=command(run))


def run(args: argparse.Namespace, store: Store) -> int:
    rows = following.following(store, args.runs, args.dataset, args.category)
    if args.plot:
        from kiseki.report.plots import following_plot  # matplotlib: only when plotting

        name = args.dataset or args.category
        print(f"plot: {following_plot(rows, args.plot, f'{name}: following rate and score')}")
    shown = following.summary(rows) if args.summary else rows
    return emit(shown, args.format, "nothing to show")
