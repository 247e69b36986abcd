"""The choice of store client from a URL: the one module that knows every client."""

from __future__ import annotations

from urllib.parse import urlsplit

from kiseki.core.store.base import Store, StoreError


def open_store(url: str, password: str = "", create_database: bool = True) -> Store:
    """`chdb:PATH` (or `chdb::memory:`) embeds chDB; `http(s)://user@host:port/db` uses a server
    (creating `db` when missing unless `create_database` is false); `grpc://host:port` asks
    the Query service of a running stack (read-only)."""
    scheme = urlsplit(url).scheme
    if scheme == "chdb":
        from kiseki.core.store.embedded import open_embedded

        return open_embedded(url.removeprefix("chdb:").removeprefix("//"))
    if scheme in ("http", "https"):
        from kiseki.core.store.server import open_server

        return open_server(url, password, create_database)
    if scheme == "grpc":
        from kiseki.core.store.query_api import RemoteStore

        return RemoteStore(url.removeprefix("grpc://"))
    raise StoreError(
        f"unsupported store URL {url!r}: use chdb:PATH, http(s)://host:port/db or grpc://host:port"
    )
