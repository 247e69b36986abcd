"""`kiseki regressions RUN` and `kiseki noise RUN`: significant drops between checkpoints
(paired tests on the per-sample rows, with the samples that fell) and how noisy each dataset
is (bootstrap intervals, spread over the last checkpoints, signal-to-noise)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.core.store import Store
from kiseki.report import regressions


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run")
    parser.add_argument("--dataset", default="", help="one dataset (default: all)")
    parser.add_argument("--mode", choices=list(SCORING_MODES), default="", help="one mode")
    add_store_options(parser)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drops = command_parser(subparsers, "regressions")
    _common(drops)
    drops.add_argument("--alpha", type=float, default=regressions.ALPHA, help="significance level")
    drops.set_defaults(func=command(_regressions))
    spread = command_parser(subparsers, "noise")
    _common(spread)
    spread.add_argument("--last", type=int, default=5, help="checkpoints the spread is over")
    spread.add_argument(
        "--checkpoints", action="store_true", help="every checkpoint's score and interval"
    )
    spread.add_argument("--plot", type=Path, help="write the scores with their intervals (PNG)")
    spread.set_defaults(func=command(_noise))


def _regressions(args: argparse.Namespace, store: Store) -> int:
    rows = regressions.regressions(store, args.run, args.dataset, args.mode, args.alpha)
    return emit(rows, args.format, f"no significant drop in {args.run} (alpha {args.alpha})")


def _noise(args: argparse.Namespace, store: Store) -> int:
    if args.checkpoints or args.plot:
        rows = regressions.intervals(store, args.run, args.dataset, args.mode)
        if rows and args.plot:
            from kiseki.report.plots import interval_plot  # matplotlib: only when plotting

            print(f"plot: {interval_plot(rows, args.plot, f'{args.run}: score and 95 % interval')}")
    else:
        rows = regressions.noise(store, args.run, args.dataset, args.mode, args.last)
    return emit(rows, args.format, f"no per-sample scores for {args.run}")
