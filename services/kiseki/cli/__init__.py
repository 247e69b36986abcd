"""The `kiseki` command line: each sub-command lives in its own module with a `register` hook."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers)`, which adds its sub-parser and sets `func`
# (a callable taking the parsed namespace and returning an exit code).
COMMAND_MODULES = (
    "kiseki.cli.up_cmd",
    "kiseki.cli.metrics_cmd",
    "kiseki.cli.eval_offline_cmd",
    "kiseki.cli.trtllm_cmd",
    "kiseki.cli.runs_cmd",
    "kiseki.cli.scores_cmd",
    "kiseki.cli.trajectory_cmd",
    "kiseki.cli.sql_cmd",
    "kiseki.cli.baselines_cmd",
    "kiseki.cli.dlq_cmd",
    "kiseki.cli.evaluate_cmd",
)


class CommandError(Exception):
    """A user-facing error: printed on stderr without a traceback, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiseki", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as error:
        print(f"kiseki {args.command}: {error}", file=sys.stderr)
        return 2
