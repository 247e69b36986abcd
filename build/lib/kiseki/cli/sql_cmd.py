"""`kiseki sql "SELECT ..."`: any read-only query over the store's tables and views."""

from __future__ import annotations

import argparse

from kiseki.cli import CommandError, command_parser
from kiseki.cli.store_access import add_store_options, command, emit
from kiseki.core.store import Store
from kiseki.core.store.query_api import read_only_statement


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "sql")
    parser.add_argument("statement", help="SELECT, WITH, SHOW, DESCRIBE or EXISTS")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a {NAME:Type} query parameter (repeatable)",
    )
    add_store_options(parser)
    parser.set_defaults(func=command(run))


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--param {pair!r}: expected NAME=VALUE")
        params[name] = value
    return params


def run(args: argparse.Namespace, store: Store) -> int:
    statement = read_only_statement(args.statement)  # the same rule whichever store
    rows = store.query(statement, _params(args.param))
    return emit(rows, args.format, "the query returned no rows")
