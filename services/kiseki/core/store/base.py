"""The store interface that both clients implement.

Both clients run the same SQL text: ClickHouse's `{name:Type}` query parameters, inserts as
`INSERT INTO t SETTINGS insert_deduplication_token=... FORMAT JSONEachRow`, and reads that
deduplicate with `FINAL` or aggregation (see schema.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Row = Mapping[str, Any]


class StoreError(RuntimeError):
    """The store refused a statement or cannot be used: the message says why."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now; the same statement may succeed later."""


class StoreAuthenticationFailed(StoreError):
    """The server answered and refused the user or password: retrying will not help."""


class DatabaseMissing(StoreError):
    """The server answered and has no such database (and kiseki may not create it)."""


class BadStatement(StoreError):
    """The store ran the statement and refused it (syntax, unknown table or column, types)."""


class Store(Protocol):
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None: ...

    def close(self) -> None: ...


def json_each_row(rows: Sequence[Row]) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False, default=str) for row in rows).encode()


def check_table_name(table: str) -> str:
    if not table.replace("_", "").isalnum():
        raise BadStatement(f"invalid table name {table!r}")
    return table


def insert_statement(table: str, dedup_token: str) -> str:
    check_table_name(table)
    settings = ""
    if dedup_token:
        # A retried insert of the same block with the same token is dropped by the table
        # (non_replicated_deduplication_window); FINAL reads cover everything else.
        escaped = dedup_token.replace("\\", "\\\\").replace("'", "\\'")
        settings = f" SETTINGS insert_deduplication_token='{escaped}'"
    return f"INSERT INTO {table}{settings} FORMAT JSONEachRow"
