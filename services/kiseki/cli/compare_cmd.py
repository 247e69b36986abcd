"""`kiseki compare RUN... --at-tokens N [--emergence]` and `kiseki predict RUN --category C
--at-tokens N`: runs at equal training tokens, the order their categories emerge in, and a
category's score predicted from its trajectory so far."""

from __future__ import annotations

import argparse

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.scoring_modes import SCORING_MODES
from kiseki.core.store import Store
from kiseki.report import compare


def _tokens(text: str) -> int:
    value = int(float(text))
    if value <= 0:
        raise argparse.ArgumentTypeError(f"a token count must be positive, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    side = command_parser(subparsers, "compare")
    side.add_argument("runs", nargs="+", metavar="RUN")
    side.add_argument("--at-tokens", type=_tokens, help="e.g. 1e11 (required unless --emergence)")
    side.add_argument("--emergence", action="store_true", help="the order categories emerge in")
    side.add_argument("--ma", type=int, default=20, help="moving-average window (checkpoints)")
    side.add_argument("--mode", choices=list(SCORING_MODES), default="generate")
    add_store_options(side)
    side.set_defaults(func=command(_compare))
    ahead = command_parser(subparsers, "predict")
    ahead.add_argument("run")
    ahead.add_argument("--category", required=True, help="a category or AVG")
    ahead.add_argument("--at-tokens", type=_tokens, required=True)
    ahead.add_argument("--mode", choices=list(SCORING_MODES), default="generate")
    add_store_options(ahead)
    ahead.set_defaults(func=command(_predict))


def _compare(args: argparse.Namespace, store: Store) -> int:
    if args.emergence:
        rows = compare.emergence(store, args.runs, args.mode, args.ma)
        return emit(rows, args.format, "no category with a baseline to rise above")
    if args.at_tokens is None:
        raise CommandError("--at-tokens N, or --emergence")
    rows = compare.at_equal_tokens(store, args.runs, args.at_tokens, args.mode, args.ma)
    return emit(rows, args.format, f"no {args.mode} category scores for {', '.join(args.runs)}")


def _predict(args: argparse.Namespace, store: Store) -> int:
    row = compare.predict(store, args.run, args.category, args.at_tokens, args.mode)
    return emit([row], args.format, "")
