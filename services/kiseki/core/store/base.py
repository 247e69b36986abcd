"""The store interface that both clients implement, and its errors.

Both run the same SQL text (ClickHouse's `{name:Type}` query parameters, column-oriented
Native inserts or bytes the store decodes itself (Encoded), each with an
insert_deduplication_token, reads that deduplicate with `FINAL` or aggregation, see
schema.py) through one client library, clickhouse-connect: over HTTP to a
server, in process to chDB. Results are decoded from the Native format by the same code, so a
row has the same Python types on both stores (float for Float64, datetime for DateTime64,
dict for Map, list for Array, None for NULL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Row = Mapping[str, Any]
Columns = Mapping[str, Sequence[Any]]


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


@dataclass(frozen=True)
class Encoded:
    """Rows the store decodes itself: `data` in the ClickHouse input format `fmt`, read as the
    columns `structure`, each table column computed by its expression in `select`, with the
    format's `settings`; `rows` counts them."""

    data: bytes
    fmt: str
    structure: str
    select: Mapping[str, str]
    settings: Mapping[str, str]
    rows: int


class Store(Protocol):
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None: ...

    def insert_columns(self, table: str, columns: Columns, dedup_token: str = "") -> None:
        """Insert equal-length columns by name: no dict per row."""
        ...

    def insert_encoded(self, table: str, encoded: Encoded, dedup_token: str = "") -> None:
        """Insert rows that the store decodes itself (the fast path: no Python per row)."""
        ...

    def close(self) -> None: ...


def columns_of(rows: Sequence[Row]) -> dict[str, list[Any]]:
    """Rows as columns, named by the first row's keys (the rows of one insert share them)."""
    return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def check_table_name(table: str) -> str:
    if not table.replace("_", "").isalnum():
        raise BadStatement(f"invalid table name {table!r}")
    return table
