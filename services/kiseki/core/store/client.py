"""A Store over a clickhouse-connect client, and ClickHouse's errors as the store's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from kiseki.core.metrics import STORE_INSERTED_ROWS, STORE_QUERY_SECONDS
from kiseki.core.store.base import (
    BadStatement,
    DatabaseMissing,
    Row,
    StoreAuthenticationFailed,
    StoreError,
    StoreUnavailable,
    check_table_name,
    json_each_row,
)

# AUTHENTICATION_FAILED, REQUIRED_PASSWORD, WRONG_PASSWORD, IP_ADDRESS_NOT_ALLOWED, UNKNOWN_USER
_AUTHENTICATION = {516, 194, 193, 195, 192}
_UNKNOWN_DATABASE = 81
# Codes a server gives while overloaded or restarting: the same statement may pass later.
# TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, SOCKET_TIMEOUT, NETWORK_ERROR,
# MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, TOO_MANY_PARTS, ABORTED
_TRANSIENT = {159, 202, 209, 210, 241, 242, 252, 236}
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)")
_TRAILER = re.compile(r"\s*\((?:version [^)]*|for url [^)]*)\)")


def describe(error: Exception) -> str:
    """ClickHouse's own message, its error name first (so a one-line display keeps it)."""
    text = str(error).strip()
    text = text.split("DB::Exception: ", 1)[-1]
    text = _TRAILER.sub("", text).strip()
    names = _NAME.findall(text)
    return f"{names[-1]}: {text}" if names and not text.startswith(names[-1]) else text


def translate(error: Exception) -> StoreError:
    if isinstance(error, OperationalError):  # connection refused, timeouts, server gone
        return StoreUnavailable(describe(error))
    code = getattr(error, "code", None)
    kind: type[StoreError] = StoreError
    if code in _AUTHENTICATION:
        kind = StoreAuthenticationFailed
    elif code == _UNKNOWN_DATABASE:
        kind = DatabaseMissing
    elif code in _TRANSIENT:
        kind = StoreUnavailable
    elif code is not None or not isinstance(error, ClickHouseError):
        kind = BadStatement
    return kind(describe(error))


class ClientStore:
    """A Store over `client`, which is safe to share between threads (a session-free HTTP
    client, or chDB's client that serialises calls on its handle)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with STORE_QUERY_SECONDS.labels(kind="command").time():
            try:
                self._client.command(sql, parameters=dict(params or {}))
            except (ClickHouseError, ValueError, TypeError) as error:
                raise translate(error) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with STORE_QUERY_SECONDS.labels(kind="query").time():
            try:
                result = self._client.query(sql, parameters=dict(params or {}))
            except (ClickHouseError, ValueError, TypeError) as error:
                raise translate(error) from None
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None:
        if not rows:
            return
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else {}
        with STORE_QUERY_SECONDS.labels(kind="insert").time():
            try:
                self._client.raw_insert(
                    check_table_name(table),
                    insert_block=json_each_row(rows),
                    settings=settings,
                    fmt="JSONEachRow",
                )
            except (ClickHouseError, ValueError, TypeError) as error:
                raise translate(error) from None
        STORE_INSERTED_ROWS.labels(table=table).inc(len(rows))

    def close(self) -> None:
        self._client.close()
