"""Schema versions on chDB and a server: a version 1 store is upgraded in place and keeps
every row, a new store records the current version, a newer store is refused."""

from __future__ import annotations

import pytest

from kiseki.core.store import Store, apply_schema, open_store
from kiseki.core.store.migrations import PROVENANCE_COLUMNS, SCHEMA_VERSION, SchemaTooNew
from kiseki.core.store.schema import ANALYTICS_VIEWS, VIEWS, default_categories
from kiseki.report import queries
from support.analytics import RUN, fill
from support.schema_v1 import TABLES_V1

TABLES = ("runs", "checkpoints", "checkpoint_status", "sample_results", "job_summaries")


def _version(store: Store) -> int:
    return int(store.query("SELECT max(version) AS v FROM schema_versions")[0]["v"])


ADDED = {column.split()[0] for column in PROVENANCE_COLUMNS}  # job_summaries, version 3


def _contents(store: Store) -> dict[str, object]:
    """Every row of every table without the columns later versions add (those must be empty:
    a row written before them knows nothing of them), and the trajectory."""
    rows = {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}
    assert all(row.get(column, "") == "" for row in rows["job_summaries"] for column in ADDED)
    kept = {
        t: [{k: v for k, v in r.items() if k not in ADDED} for r in rs] for t, rs in rows.items()
    }
    return {**kept, "trajectory": queries.trajectory(store, [RUN], window=2)}


def _codec(store: Store, column: str) -> str:
    sql = (
        "SELECT compression_codec AS codec FROM system.columns WHERE database ="
        " currentDatabase() AND table = 'sample_results' AND name = {column:String}"
    )
    return str(store.query(sql, {"column": column})[0]["codec"])


def test_a_version_1_store_is_upgraded_and_keeps_every_row(store_url: str) -> None:
    store = open_store(store_url)
    try:
        for statement in (*TABLES_V1, *VIEWS, *ANALYTICS_VIEWS, default_categories()):
            store.command(statement)  # what version 1's apply_schema ran
        fill(store)
        before = _contents(store)
        assert _codec(store, "prompt") == ""
        apply_schema(store)
        apply_schema(store)  # a second start finds nothing to do
        assert _version(store) == SCHEMA_VERSION == 3
        assert _codec(store, "prompt") == "CODEC(ZSTD(1))"
        assert _contents(store) == before
        assert before["sample_results"]
        assert before["trajectory"]
    finally:
        store.close()


def test_a_new_store_records_the_current_version(store: Store) -> None:
    assert store.query("SELECT version FROM schema_versions FINAL") == [{"version": 3}]


def test_a_store_newer_than_the_code_is_refused(store: Store) -> None:
    store.command("INSERT INTO schema_versions (version) VALUES (99)")
    with pytest.raises(SchemaTooNew, match="version 99, newer than the 3 this kiseki knows"):
        apply_schema(store)
