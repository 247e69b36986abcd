"""Opening a store on a real ClickHouse server: the database created when allowed, each way
of failing told apart, and one store shared by threads."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from kiseki.core.store import Store, StoreUnavailable, open_store
from kiseki.core.store.base import DatabaseMissing, StoreAuthenticationFailed, StoreError
from kiseki.core.store.schema import apply_schema
from kiseki.local.clickhouse import LocalClickHouse
from kiseki.local.process import free_port
from support.clickhouse import CLICKHOUSE_USERS


def _fresh_database() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


def test_a_missing_database_is_created_when_allowed(clickhouse: LocalClickHouse) -> None:
    database = _fresh_database()
    store = open_store(clickhouse.url(database))
    try:
        store.command("CREATE TABLE t (n UInt8) ENGINE = MergeTree ORDER BY n")
        assert store.query("SELECT currentDatabase() AS db") == [{"db": database}]
    finally:
        store.command(f"DROP DATABASE {database}")
        store.close()


def test_a_missing_database_is_named_when_creation_is_off(clickhouse: LocalClickHouse) -> None:
    database = _fresh_database()
    with pytest.raises(DatabaseMissing, match=f"no database '{database}'.*CREATE_DATABASE"):
        open_store(clickhouse.url(database), create_database=False)


@pytest.mark.parametrize("database", ["b", "s", "t", "m", "f"])
def test_a_database_named_like_a_view_alias_gets_every_view(
    clickhouse: LocalClickHouse, database: str
) -> None:
    store = open_store(clickhouse.url(database))
    try:
        apply_schema(store)
        assert store.query("SELECT count() AS n FROM category_scores") == [{"n": 0}]
    finally:
        store.command(f"DROP DATABASE {database}")
        store.close()


def test_a_database_named_like_the_views_own_aliases_is_refused_by_name(
    clickhouse: LocalClickHouse,
) -> None:
    with pytest.raises(StoreError, match="may not be named '_s', an alias kiseki's views use"):
        open_store(clickhouse.url("_s"))


def test_a_wrong_password_is_not_a_reachability_problem(clickhouse: LocalClickHouse) -> None:
    [(user, password)] = CLICKHOUSE_USERS.items()
    url = clickhouse.url("default", user)
    with pytest.raises(StoreAuthenticationFailed, match="refused user 'kiseki'") as refused:
        open_store(url, "wrong")
    assert not isinstance(refused.value, StoreUnavailable)
    assert "wrong" not in str(refused.value)
    store = open_store(url, password)
    assert store.query("SELECT currentUser() AS user") == [{"user": user}]
    store.close()


def test_no_server_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match=r"cannot reach ClickHouse at 127\.0\.0\.1"):
        open_store(f"http://127.0.0.1:{free_port()}/kiseki")


def test_one_store_serves_six_threads_at_once(store: Store) -> None:
    def ten_queries(thread: int) -> list[int]:
        return [
            store.query("SELECT {n:UInt32} AS n FROM numbers(1000) LIMIT 1", {"n": i})[0]["n"]
            for i in range(thread * 10, thread * 10 + 10)
        ]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ten_queries, range(6)))
    assert results == [list(range(t * 10, t * 10 + 10)) for t in range(6)]
