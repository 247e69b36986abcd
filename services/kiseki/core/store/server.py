"""A ClickHouse server through clickhouse-connect (HTTP interface)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from kiseki.core.store.base import (
    DatabaseMissing,
    StoreAuthenticationFailed,
    StoreError,
    StoreUnavailable,
)
from kiseki.core.store.client import ClientStore, translate
from kiseki.core.store.schema import VIEW_ALIASES


def _client(parts: SplitResult, password: str, database: str | None) -> Client:
    # No session: a session admits one query at a time, and the sink, the Query service and
    # the CLI's threads share one store (6 threads x 10 queries failed most calls with one).
    return clickhouse_connect.get_client(
        host=parts.hostname or "localhost",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        username=parts.username or "default",
        password=password or parts.password or "",
        database=database,
        secure=parts.scheme == "https",
        autogenerate_session_id=False,
        query_limit=0,
    )


def _connect(parts: SplitResult, password: str, database: str | None) -> Client:
    try:
        return _client(parts, password, database)
    except (ClickHouseError, ValueError) as error:
        raise translate(error) from None


def open_server(url: str, password: str = "", create_database: bool = True) -> ClientStore:
    """The store in the URL's database, which is created when missing and allowed."""
    parts = urlsplit(url)
    where, user = f"ClickHouse at {parts.hostname}:{parts.port}", parts.username or "default"
    database = parts.path.strip("/") or "default"
    if database in VIEW_ALIASES:
        raise StoreError(
            f"{where}: the database may not be named {database!r}, an alias kiseki's views use"
            f" (the server would read the view's tables as that alias); choose another name"
        )
    try:
        try:
            return ClientStore(_connect(parts, password, database))
        except DatabaseMissing:
            if not create_database:
                raise DatabaseMissing(
                    f"{where} has no database {database!r}, and KISEKI_STORE_CREATE_DATABASE is"
                    f" off: create it (CREATE DATABASE {database}) or let kiseki create it"
                ) from None
        bootstrap = _connect(parts, password, None)
        try:
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
        except ClickHouseError as error:
            raise translate(error) from None
        finally:
            bootstrap.close()
        return ClientStore(_connect(parts, password, database))
    except StoreUnavailable as error:
        raise StoreUnavailable(f"cannot reach {where}: {error}") from None
    except StoreAuthenticationFailed as error:
        raise StoreAuthenticationFailed(f"{where} refused user {user!r}: {error}") from None
    except DatabaseMissing:
        raise
    except StoreError as error:
        raise type(error)(f"{where}: {error}") from None
