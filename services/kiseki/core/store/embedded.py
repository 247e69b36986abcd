"""chDB: the ClickHouse engine inside this process, on a directory that it owns, through
clickhouse-connect's chDB client: the same API, Native decoder and errors as a server's, so
a query gives the same Python values on both (chDB's own JSON output gave whole Float64 as
int and DateTime64 as str)."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from kiseki.core.store.base import StoreError
from kiseki.core.store.client import ClientStore, describe

# Measured on a sink-style loop (inserts, then the regression queries, per checkpoint): once
# a merge left 100+ outdated parts, their parallel removal took the process from 28 to 150
# threads, 70 to 211 fds and +50 MiB RSS for good (the soak's +585 fds per 1,000
# checkpoints). The config removes parts serially; chDB applies no thread-pool setting.
ENGINE_CONFIG = Path(__file__).with_name("chdb_engine.xml")


def open_embedded(path: str) -> ClientStore:
    """`:memory:` or a directory (created if absent). One process holds one path at a time;
    the client serialises calls on its handle, so threads may share the store."""
    if path != ":memory:":
        Path(path).mkdir(parents=True, exist_ok=True)
        path = str(Path(path).resolve())
    try:
        client = clickhouse_connect.get_client(
            interface="chdb",
            path=path,
            query_limit=0,
            chdb_options={"config-file": str(ENGINE_CONFIG)},
        )
    except (ClickHouseError, OSError, RuntimeError) as error:
        raise StoreError(f"cannot open chDB at {path}: {describe(error)}") from None
    return ClientStore(client, embedded=True)
