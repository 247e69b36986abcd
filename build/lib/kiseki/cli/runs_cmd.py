"""`kiseki runs` and `kiseki checkpoints RUN`: what the store holds."""

from __future__ import annotations

import argparse

from kiseki.cli import command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.store import Store
from kiseki.report import queries


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = command_parser(subparsers, "runs")
    add_store_options(runs)
    runs.set_defaults(func=command(_runs))
    checkpoints = command_parser(subparsers, "checkpoints")
    checkpoints.add_argument("run")
    add_store_options(checkpoints)
    checkpoints.set_defaults(func=command(_checkpoints))


def _runs(args: argparse.Namespace, store: Store) -> int:
    return emit(queries.runs(store), args.format, "the store holds no runs yet")


def _checkpoints(args: argparse.Namespace, store: Store) -> int:
    rows = queries.checkpoints(store, args.run)
    return emit(rows, args.format, f"run {args.run} has no checkpoints")
