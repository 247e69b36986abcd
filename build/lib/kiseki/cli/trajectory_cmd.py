"""`kiseki trajectory RUN... [--category C] [--ma 20] [--plot out.png]` and
`kiseki shapes RUN... [--plot out.png]`: category curves against training tokens, their
moving average and majority baseline, and the shape of each (gradual / two-stage /
late-emerging / flat, by kiseki.evaluation.trajectory's rule)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.core.store import Store
from kiseki.report import queries


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trajectory = command_parser(subparsers, "trajectory")
    trajectory.add_argument("runs", nargs="+", metavar="RUN")
    trajectory.add_argument("--category", default="", help="one category or AVG (default: all)")
    _common(trajectory)
    trajectory.add_argument("--wide", action="store_true", help="one column per category")
    trajectory.set_defaults(func=command(_trajectory))
    shapes = command_parser(subparsers, "shapes")
    shapes.add_argument("runs", nargs="+", metavar="RUN")
    _common(shapes)
    shapes.set_defaults(func=command(_shapes))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=list(SCORING_MODES), default="generate")
    parser.add_argument("--ma", type=int, default=20, help="moving-average window (checkpoints)")
    parser.add_argument("--plot", type=Path, help="write a PNG here (log tokens axis)")
    add_store_options(parser)


def _trajectory(args: argparse.Namespace, store: Store) -> int:
    rows = queries.trajectory(store, args.runs, args.category, args.mode, args.ma)
    empty = f"no {args.mode} category scores for {', '.join(args.runs)}"
    if args.category:
        empty += f" in category {args.category} (see `kiseki scores RUN --category all`)"
    if rows and args.plot:
        title = f"{args.category or 'AVG'} ({args.mode})"
        plotted = [r for r in rows if r["category"] == (args.category or "AVG")]
        from kiseki.report.plots import trajectory_plot  # matplotlib: only when plotting

        print(f"plot: {trajectory_plot(plotted, args.plot, title, args.ma)}")
    return emit(queries.wide(rows) if args.wide else rows, args.format, empty)


def _shapes(args: argparse.Namespace, store: Store) -> int:
    rows = queries.trajectory(store, args.runs, mode=args.mode, window=args.ma)
    shapes = queries.shapes_of(rows)
    if shapes and args.plot:
        from kiseki.report.plots import shapes_plot

        print(f"plot: {shapes_plot(rows, shapes, args.plot, args.ma)}")
    empty = f"no {args.mode} category has three checkpoints yet in {', '.join(args.runs)}"
    return emit(shapes, args.format, empty)
