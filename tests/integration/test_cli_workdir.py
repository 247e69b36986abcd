"""The query commands follow `kiseki up --workdir`, and a table keeps one line per row when a
cell holds newlines (prompts and outputs do)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.core.store import apply_schema, open_store


def test_query_commands_read_the_store_of_the_workdir_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / "elsewhere"
    store = open_store(f"chdb:{workdir / 'store'}")
    apply_schema(store)
    checkpoint = {
        "checkpoint_id": "ck",
        "run_id": "moved-run",
        "step": 10,
        "tokens_seen": 100,
        "uri": "/c",
        "format": "HF",
        "size_bytes": 1,
        "model_size": "tiny",
        "metadata": {},
        "discovered_at": "2026-12-01 00:00:00.000",
    }
    store.insert_rows("checkpoints", [checkpoint])
    store.close()
    assert main(["runs", "--workdir", str(workdir)]) == 0
    assert "moved-run" in capsys.readouterr().out
    assert main(["runs", "--workdir", str(tmp_path / "none")]) == 2
    assert f"no chDB store at {tmp_path / 'none' / 'store'}" in capsys.readouterr().err


def test_a_table_cell_with_newlines_stays_on_its_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "store").mkdir()
    sql = "SELECT 'line one\\nline two\\tend' AS prompt, 1 AS n UNION ALL SELECT 'x', 2"
    assert main(["sql", sql, "--store", f"chdb:{tmp_path / 'store'}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # header, rule, two rows
    assert "line one\\nline two\\tend" in lines[2] + lines[3]
