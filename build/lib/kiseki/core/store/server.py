"""A ClickHouse server through clickhouse-connect (HTTP interface)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from kiseki.core.metrics import STORE_INSERTED_ROWS, STORE_QUERY_SECONDS
from kiseki.core.store.base import Row, StoreError, StoreUnavailable, json_each_row


def _translate(error: ClickHouseError) -> StoreError:
    if isinstance(error, OperationalError):  # connection refused, timeouts, server gone
        return StoreUnavailable(str(error).strip())
    return StoreError(str(error).strip())


class ServerStore:
    def __init__(self, url: str, password: str = "") -> None:
        parts = urlsplit(url)
        try:
            self._client = clickhouse_connect.get_client(
                host=parts.hostname or "localhost",
                port=parts.port or (8443 if parts.scheme == "https" else 8123),
                username=parts.username or "default",
                password=password or parts.password or "",
                database=parts.path.strip("/") or "default",
                secure=parts.scheme == "https",
            )
        except (ClickHouseError, OSError) as error:
            raise StoreError(
                f"cannot reach ClickHouse at {parts.hostname}:{parts.port}: {error}"
            ) from None

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with STORE_QUERY_SECONDS.labels(kind="command").time():
            try:
                self._client.command(sql, parameters=dict(params or {}))
            except ClickHouseError as error:
                raise _translate(error) from None

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with STORE_QUERY_SECONDS.labels(kind="query").time():
            try:
                return list(self._client.query(sql, parameters=dict(params or {})).named_results())
            except ClickHouseError as error:
                raise _translate(error) from None

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None:
        if not rows:
            return
        settings = {"insert_deduplication_token": dedup_token} if dedup_token else {}
        with STORE_QUERY_SECONDS.labels(kind="insert").time():
            try:
                self._client.raw_insert(
                    table, insert_block=json_each_row(rows), settings=settings, fmt="JSONEachRow"
                )
            except ClickHouseError as error:
                raise _translate(error) from None
        STORE_INSERTED_ROWS.labels(table=table).inc(len(rows))

    def close(self) -> None:
        self._client.close()
