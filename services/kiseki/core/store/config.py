"""Where the store lives, read from the environment like every other setting."""

from __future__ import annotations

from dataclasses import dataclass

from kiseki.core.config import setting
from kiseki.core.store.base import Store
from kiseki.core.store.connect import open_store


@dataclass(frozen=True)
class StoreConfig:
    url: str = setting(
        "KISEKI_STORE_URL",
        "chdb:.artifacts/up/store",
        doc="chdb:DIR embeds chDB; http(s)://user@host:port/db uses a server. Default: the"
        " store of `kiseki up` in its default workdir, which the commands read",
    )
    password: str = setting(
        "KISEKI_CLICKHOUSE_PASSWORD", "", doc="ClickHouse server password, from a Secret"
    )
    create_database: bool = setting(
        "KISEKI_STORE_CREATE_DATABASE",
        True,
        doc="create the URL's database on a server when it is missing (needs the CREATE"
        " DATABASE privilege). On for local use, where a fresh server has only `default`; a"
        " cluster's user usually may not, so the chart turns it off and a missing database is"
        " reported as missing",
    )

    def open(self) -> Store:
        return open_store(self.url, self.password, self.create_database)

    def __repr__(self) -> str:
        return f"StoreConfig(url={self.url!r}, create_database={self.create_database})"
