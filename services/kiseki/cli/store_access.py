"""What every store-reading command shares: which store (`--store`), the output format
(`--format`), and turning store errors into clear messages (exit code 2).

Without `--store`: KISEKI_STORE_URL; else a running `kiseki up` (the Query service address
it writes to .artifacts/up/query.address); else the chDB store that `kiseki up` left in
.artifacts/up/store.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kiseki.cli import CommandError
from kiseki.core.store import Store, StoreError, apply_schema, open_store
from kiseki.core.store.query_api import RemoteStore
from kiseki.report.queries import NotFound, Rows
from kiseki.stack.workdir import DEFAULT_WORKDIR, reader_store_url

FORMATS = ("table", "csv", "json")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        help="chdb:DIR, http(s)://user@host:port/db or grpc://host:port (default: see docs)",
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    add_workdir_option(parser)


def add_workdir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"the --workdir of `kiseki up`, whose store and addresses to use ({DEFAULT_WORKDIR})",
    )


@contextmanager
def opened_store(args: argparse.Namespace) -> Iterator[Store]:
    """The store, with every store error turned into a CommandError."""
    url = args.store or reader_store_url(args.workdir)
    if url.startswith("chdb:") and not Path(url.removeprefix("chdb:")).is_dir():
        raise CommandError(f"no chDB store at {url.removeprefix('chdb:')} (pass --store)")
    try:
        store = open_store(url, os.environ.get("KISEKI_CLICKHOUSE_PASSWORD", ""))
        if url.startswith("chdb:"):
            apply_schema(store)  # a store written by an older kiseki gains the newer views
    except StoreError as error:
        raise CommandError(str(error)) from None
    try:
        yield store
    except (StoreError, NotFound, ValueError) as error:
        raise CommandError(str(error).splitlines()[0] if error.args else repr(error)) from None
    finally:
        if isinstance(store, RemoteStore) and store.truncated:
            print("kiseki: the result was cut to the Query service's row limit", file=sys.stderr)
        store.close()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    # One line per row: prompts and outputs hold newlines (and tabs) of their own.
    text = "-" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _table(columns: list[str], rows: Rows) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    lines = [columns, ["-" * w for w in widths], *cells]
    return "\n".join(
        "  ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )


def emit(rows: Rows, fmt: str, empty: str) -> int:
    """Print rows as a table, CSV or JSON; no rows is an error that says what was empty."""
    if not rows:
        raise CommandError(empty)
    columns = list(rows[0])
    if fmt == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=1, default=str))
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(_table(columns, rows))
    return 0


def command(fn: Callable[[argparse.Namespace, Store], int]) -> Callable[[argparse.Namespace], int]:
    """A sub-command body that receives the opened store."""

    def run(args: argparse.Namespace) -> int:
        with opened_store(args) as store:
            return fn(args, store)

    return run
