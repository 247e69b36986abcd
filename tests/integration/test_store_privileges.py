"""The privileges the README gives a ClickHouse server's users are enough, and no more is
needed: a writer (the services) creates the schema and takes the sink's inserts, the sink's
store-decoded one (`INSERT … SELECT … FROM input()`) included; a reader (the CLI) queries the
views."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kiseki.core.kafka import Delivery
from kiseki.core.store import apply_schema, open_store
from kiseki.core.store.base import BadStatement
from kiseki.local.clickhouse import start_clickhouse
from kiseki.sink.writer import StoreWriter
from support.messages import DISCOVERED, job_results

DATABASE = "kiseki"
# As README.md ("Pointing kiseki at a ClickHouse server") lists them.
WRITER = (
    f"GRANT CREATE TABLE, CREATE VIEW, DROP VIEW, ALTER, INSERT, SELECT ON {DATABASE}.*",
    "GRANT SELECT ON system.columns",
    "GRANT TABLE ENGINE ON ReplacingMergeTree",
)
READER = (f"GRANT SELECT ON {DATABASE}.*",)


def test_the_readme_privileges_suffice_for_the_services_and_the_cli(tmp_path: Path) -> None:
    users = {"writer": "w-secret", "reader": "r-secret"}
    server = start_clickhouse(tmp_path, users=users, grants={"writer": WRITER, "reader": READER})
    try:
        open_store(server.url()).command(f"CREATE DATABASE {DATABASE}")
        writer = open_store(server.url(DATABASE, "writer"), users["writer"])
        apply_schema(writer)
        results = job_results("jnli", 3)
        delivery = Delivery(
            results, "ck", {}, "kiseki.results", 0, 1, 0, results.SerializeToString()
        )
        sink = StoreWriter(writer)
        found = Delivery(DISCOVERED, "ck", {}, "kiseki.checkpoints", 0, 1)
        asyncio.run(sink.write_checkpoints([found]))
        asyncio.run(sink.write_results([delivery]))
        reader = open_store(server.url(DATABASE, "reader"), users["reader"])
        rows = reader.query("SELECT prompt, prediction FROM samples ORDER BY sample_index")
        assert [r["prompt"] for r in rows] == [s.prompt for s in results.samples]
        scores = reader.query("SELECT dataset, score FROM dataset_scores")
        assert scores == [{"dataset": "jnli", "score": 1 / 3}]
        with pytest.raises(BadStatement, match="ACCESS_DENIED"):
            reader.command("INSERT INTO runs (run_id) VALUES ('x')")
    finally:
        server.stop()
