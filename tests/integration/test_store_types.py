"""The same query gives the same Python values and types on chDB and on a server, and the
CLI prints the same bytes for both."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest

from kiseki.cli import main
from kiseki.core.store import Store, apply_schema, open_store
from kiseki.local.clickhouse import LocalClickHouse
from support.analytics import fill

VALUES_SQL = """
SELECT toFloat64(2) AS whole, toFloat64(0.25) AS part,
       toDateTime64('2026-11-22 10:00:01.250', 3) AS at, toDate('2026-11-22') AS day,
       map('acc', toFloat64(1)) AS metrics, [toFloat64(1), -0.5] AS logprobs,
       CAST(NULL, 'Nullable(Float64)') AS missing, toNullable(toFloat64(3)) AS present,
       toUInt64(7) AS n, toInt64(-1) AS signed, toLowCardinality('x') AS text, true AS yes
"""
EXPECTED = {
    "whole": 2.0,
    "part": 0.25,
    "at": datetime.datetime(2026, 11, 22, 10, 0, 1, 250000),
    "day": datetime.date(2026, 11, 22),
    "metrics": {"acc": 1.0},
    "logprobs": [1.0, -0.5],
    "missing": None,
    "present": 3.0,
    "n": 7,
    "signed": -1,
    "text": "x",
    "yes": True,
}


def _types(value: object) -> object:
    """The value's type, and its members' types for a Map or an Array."""
    if isinstance(value, dict):
        return {k: type(v) for k, v in value.items()}
    if isinstance(value, list):
        return [type(v) for v in value]
    return type(value)


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, clickhouse: LocalClickHouse
) -> Iterator[dict[str, str]]:
    """A chDB store and a server database, each with the schema and the same run."""
    database = f"types_{uuid.uuid4().hex[:16]}"
    chdb_dir = tmp_path_factory.mktemp("types") / "store"
    urls = {"chdb": f"chdb:{chdb_dir}", "server": clickhouse.url(database)}
    for url in urls.values():
        store = open_store(url)
        try:
            apply_schema(store)
            fill(store)
        finally:
            store.close()
    yield urls
    admin = open_store(clickhouse.url())
    admin.command(f"DROP DATABASE IF EXISTS {database}")
    admin.close()


def _query(url: str, sql: str) -> list[dict[str, object]]:
    store: Store = open_store(url)
    try:
        return store.query(sql)
    finally:
        store.close()


def test_values_and_types_match_on_both_stores(both: dict[str, str]) -> None:
    stored = (
        "SELECT s.metrics, s.latency_ms, c.discovered_at FROM sample_results AS s FINAL"
        " INNER JOIN checkpoints AS c FINAL ON c.checkpoint_id = s.checkpoint_id"
        " ORDER BY s.step, s.dataset, s.scoring_mode, s.sample_index LIMIT 5"
    )
    for sql in (VALUES_SQL, stored):
        on_chdb, on_server = (_query(url, sql) for url in both.values())
        assert on_chdb == on_server
        assert [{k: _types(v) for k, v in r.items()} for r in on_chdb] == [
            {k: _types(v) for k, v in r.items()} for r in on_server
        ]
    [row] = _query(both["chdb"], VALUES_SQL)
    assert {k: _types(v) for k, v in row.items()} == {k: _types(v) for k, v in EXPECTED.items()}
    assert row == EXPECTED


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_the_cli_prints_the_same_bytes_for_both(
    both: dict[str, str], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    printed = []
    for url in both.values():
        for sql in (VALUES_SQL, "SELECT * FROM scores WHERE metric = 'acc' ORDER BY step"):
            assert main(["sql", sql, "--store", url, "--format", fmt]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]
    assert "2026-11-22 10:00:01.250000" in printed[0]
