"""The choice of store client from a URL: the one module that knows every client."""

from __future__ import annotations

from urllib.parse import urlsplit

from kiseki.core.store.base import Store, StoreError


def open_store(url: str, password: str = "") -> Store:
    """`chdb:PATH` (or `chdb::memory:`) embeds chDB; `http(s)://user@host:port/db` uses a server;
    `grpc://host:port` asks the Query service of a running stack (read-only)."""
    scheme = urlsplit(url).scheme
    if scheme == "chdb":
        from kiseki.core.store.embedded import EmbeddedStore

        return EmbeddedStore(url.removeprefix("chdb:").removeprefix("//"))
    if scheme in ("http", "https"):
        from kiseki.core.store.server import ServerStore

        return ServerStore(url, password)
    if scheme == "grpc":
        from kiseki.core.store.query_api import RemoteStore

        return RemoteStore(url.removeprefix("grpc://"))
    raise StoreError(
        f"unsupported store URL {url!r}: use chdb:PATH, http(s)://host:port/db or grpc://host:port"
    )
