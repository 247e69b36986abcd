"""Schema versions on chDB and a server: a store of version 1 or 3 (today's before prompts were
stored once) is upgraded in place and keeps every row and every prompt, a new store records the
current version, a newer store is refused."""

from __future__ import annotations

import pytest

from kiseki.core.store import Store, apply_schema, open_store
from kiseki.core.store.migrations import PROVENANCE_COLUMNS, SCHEMA_VERSION, SchemaTooNew
from kiseki.core.store.schema import ANALYTICS_VIEWS, VIEWS, default_categories
from kiseki.report import queries
from support.analytics import RUN, fill
from support.schema_v1 import TABLES_V1
from support.schema_v3 import TABLES_V3

TABLES = ("runs", "checkpoints", "checkpoint_status", "sample_results", "job_summaries")
ADDED = {column.split()[0] for column in PROVENANCE_COLUMNS}  # job_summaries, version 3
# Every raw sample row (replays included) with its prompt's text, before and after version 4.
WITH_PROMPTS = (
    "SELECT _r.* EXCEPT (prompt_hash), _p.prompt AS prompt FROM sample_results AS _r"
    " LEFT JOIN prompts AS _p FINAL ON _p.prompt_hash = _r.prompt_hash"
)


def _version(store: Store) -> int:
    return int(store.query("SELECT max(version) AS v FROM schema_versions")[0]["v"])


def _holds_prompt_hashes(store: Store) -> bool:
    return any(row["name"] == "prompt_hash" for row in store.query("DESCRIBE sample_results"))


def _contents(store: Store) -> dict[str, object]:
    """Every row of every table without the columns later versions add (those must be empty:
    a row written before them knows nothing of them), each sample row with its prompt's text,
    and the trajectory."""
    rows = {t: store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}
    if _holds_prompt_hashes(store):
        rows["sample_results"] = store.query(WITH_PROMPTS)
    assert all(row.get(column, "") == "" for row in rows["job_summaries"] for column in ADDED)
    kept = {
        t: sorted(({k: v for k, v in r.items() if k not in ADDED} for r in rs), key=repr)
        for t, rs in rows.items()
    }
    return {**kept, "trajectory": queries.trajectory(store, [RUN], window=2)}


def _codec(store: Store, table: str, column: str) -> str:
    sql = (
        "SELECT compression_codec AS codec FROM system.columns WHERE database ="
        " currentDatabase() AND table = {table:String} AND name = {column:String}"
    )
    return str(store.query(sql, {"table": table, "column": column})[0]["codec"])


def _make(store: Store, version: int) -> None:
    """What the apply_schema of kiseki at `version` ran."""
    for statement in (*(TABLES_V1 if version == 1 else TABLES_V3), *VIEWS, *ANALYTICS_VIEWS):
        store.command(statement)
    store.command(default_categories())
    if version == 3:
        store.command(
            "CREATE TABLE schema_versions (version UInt32, applied_at DateTime64(3)"
            " DEFAULT now64(3)) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"
        )
        store.command("INSERT INTO schema_versions (version) VALUES (3)")


@pytest.mark.parametrize("version", [1, 3])
def test_an_older_store_is_upgraded_and_keeps_every_row_and_prompt(
    store_url: str, version: int
) -> None:
    store = open_store(store_url)
    try:
        _make(store, version)
        fill(store, rows_hold_prompts=True)
        before = _contents(store)
        assert _codec(store, "sample_results", "raw_output") == (
            "" if version == 1 else "CODEC(ZSTD(1))"
        )
        apply_schema(store)
        apply_schema(store)  # a second start finds nothing to do
        assert _version(store) == SCHEMA_VERSION == 4
        assert _codec(store, "sample_results", "raw_output") == "CODEC(ZSTD(1))"
        assert _codec(store, "prompts", "prompt") == "CODEC(ZSTD(3))"
        assert _contents(store) == before
        assert len(before["sample_results"]) == 48 + 40  # type: ignore[arg-type]
        prompts = {r["prompt"] for r in before["sample_results"]}  # type: ignore[attr-defined]
        stored = store.query("SELECT prompt FROM prompts FINAL")
        assert sorted(r["prompt"] for r in stored) == sorted(prompts)  # each once
        shown = store.query("SELECT DISTINCT prompt FROM samples")
        assert {r["prompt"] for r in shown} == prompts
        assert before["trajectory"]
    finally:
        store.close()


def test_a_new_store_records_the_current_version(store: Store) -> None:
    assert store.query("SELECT version FROM schema_versions FINAL") == [{"version": 4}]


def test_a_store_newer_than_the_code_is_refused(store: Store) -> None:
    store.command("INSERT INTO schema_versions (version) VALUES (99)")
    with pytest.raises(SchemaTooNew, match="version 99, newer than the 4 this kiseki knows"):
        apply_schema(store)
