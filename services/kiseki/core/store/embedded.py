"""chDB: the ClickHouse engine inside this process, on a directory that it owns."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import chdb

from kiseki.core.metrics import STORE_INSERTED_ROWS, STORE_QUERY_SECONDS
from kiseki.core.store.base import BadStatement, Row, StoreError, insert_statement, json_each_row

# JSON output with real numbers, so results look the same as clickhouse-connect's.
_SESSION_SETTINGS = (
    "SET output_format_json_quote_64bit_integers = 0",
    "SET output_format_json_quote_64bit_floats = 0",
    "SET output_format_json_quote_decimals = 0",
)


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def _parameter(value: Any) -> Any:
    """chDB takes an Array parameter as its ClickHouse literal text, as clickhouse-connect
    writes it for a server; scalars go as they are."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    return value


# chDB's annotations differ between its builds; one typed seam keeps mypy stable.
_connect: Callable[[str], Any] = chdb.connect


class EmbeddedStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).mkdir(parents=True, exist_ok=True)
            path = f"file:{Path(path).resolve()}"
        self._lock = threading.Lock()  # one chDB connection is not safe across threads
        try:
            self._conn = _connect(path)
            for statement in _SESSION_SETTINGS:
                self._conn.query(statement)
        except Exception as error:
            raise StoreError(f"cannot open chDB at {path}: {error}") from None

    def _run(self, kind: str, sql: str, fmt: str, params: Mapping[str, Any] | None) -> str:
        with self._lock, STORE_QUERY_SECONDS.labels(kind=kind).time():
            try:
                parameters = {name: _parameter(v) for name, v in (params or {}).items()}
                return str(self._conn.query(sql, fmt, params=parameters))
            except Exception as error:
                raise BadStatement(str(error).strip()) from None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run("command", sql, "CSV", params)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        text = self._run("query", sql, "JSONEachRow", params)
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None:
        if not rows:
            return
        sql = f"{insert_statement(table, dedup_token)}\n{json_each_row(rows).decode()}"
        self._run("insert", sql, "CSV", None)
        STORE_INSERTED_ROWS.labels(table=table).inc(len(rows))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
