"""Read-only SQL over gRPC (kiseki.v1.Query): the service the store's owner serves, and the
client side, a Store whose writes are refused.

chDB has one owner: while `kiseki up` runs, the sink holds the database, so the CLI asks the
sink instead of opening the directory. Only single SELECT/WITH/SHOW/DESCRIBE/EXISTS
statements pass; SELECT and WITH additionally run with `readonly = 1`, which also stops
table functions that touch files or the network.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from kiseki.core.grpc_server import GrpcServer
from kiseki.core.store.base import Columns, Encoded, Row, Store, StoreError, StoreUnavailable
from kiseki.v1 import query_pb2, query_pb2_grpc

READ_ONLY_KEYWORDS = ("select", "with", "show", "describe", "desc", "exists")
MAX_ROWS = 200_000
MAX_MESSAGE_BYTES = 256 * 2**20
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)


class NotReadOnly(StoreError):
    """A statement the Query service refuses to run."""


def read_only_statement(sql: str) -> str:
    """The statement to run for `sql`, or NotReadOnly saying why it is refused."""
    text = _LEADING_COMMENTS.sub("", sql).strip().rstrip(";").rstrip()
    if not text:
        raise NotReadOnly("empty statement")
    if ";" in text:
        raise NotReadOnly("one statement at a time (no ';' inside)")
    keyword = re.split(r"[\s(]", text, maxsplit=1)[0].lower()
    if keyword not in READ_ONLY_KEYWORDS:
        raise NotReadOnly(
            f"only {', '.join(k.upper() for k in READ_ONLY_KEYWORDS)} statements are allowed,"
            f" not {keyword.upper()}"
        )
    if keyword in ("select", "with"):
        return f"SELECT * FROM (\n{text}\n) SETTINGS readonly = 1"
    return text


class QueryService(query_pb2_grpc.QueryServicer):
    def __init__(self, store: Store, max_rows: int = MAX_ROWS) -> None:
        self.store, self.max_rows = store, max_rows

    async def Run(
        self, request: query_pb2.QueryRequest, context: grpc.aio.ServicerContext
    ) -> query_pb2.QueryResponse:
        try:
            params = json.loads(request.params_json or "{}")
            if not isinstance(params, dict):
                raise NotReadOnly("params_json must be a JSON object")
            statement = read_only_statement(request.sql)
            rows = await asyncio.to_thread(self.store.query, statement, params)
        except StoreUnavailable as error:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
            raise  # abort raises; this line is for the type checker
        except (StoreError, json.JSONDecodeError) as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise
        limit = min(request.max_rows or self.max_rows, self.max_rows)
        encoded = [json.dumps(r, ensure_ascii=False, default=str) for r in rows[:limit]]
        return query_pb2.QueryResponse(rows_json=encoded, truncated=len(rows) > limit)


def query_server(store: Store, host: str, port: int) -> GrpcServer:
    service = QueryService(store)
    return GrpcServer(
        [lambda server: query_pb2_grpc.add_QueryServicer_to_server(service, server)],
        ["kiseki.v1.Query"],
        host=host,
        port=port,
    )


class RemoteStore:
    """A Store over the Query service at `host:port`: queries only."""

    def __init__(self, address: str, timeout_s: float = 120.0) -> None:
        self.address, self.timeout_s = address, timeout_s
        self._channel = grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        )
        self._stub = query_pb2_grpc.QueryStub(self._channel)
        self.truncated = False

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        request = query_pb2.QueryRequest(sql=sql, params_json=json.dumps(dict(params or {})))
        try:
            reply = self._stub.Run(request, timeout=self.timeout_s)
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise StoreError(details) from None
            raise StoreUnavailable(
                f"the Query service at {self.address} does not answer ({code.name}): {details}"
            ) from None
        self.truncated = reply.truncated
        return [json.loads(row) for row in reply.rows_json]

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        raise StoreError("the Query service is read-only")

    def insert_rows(self, table: str, rows: Sequence[Row], dedup_token: str = "") -> None:
        raise StoreError("the Query service is read-only")

    def insert_columns(self, table: str, columns: Columns, dedup_token: str = "") -> None:
        raise StoreError("the Query service is read-only")

    def insert_encoded(self, table: str, encoded: Encoded, dedup_token: str = "") -> None:
        raise StoreError("the Query service is read-only")

    def close(self) -> None:
        self._channel.close()
