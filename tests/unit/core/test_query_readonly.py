"""Which statements the Query service (and `kiseki sql`) lets through."""

import pytest

from kiseki.core.store.query_api import NotReadOnly, read_only_statement


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "  select run_id FROM runs;",
        "-- a comment\nWITH 1 AS x SELECT x",
        "/* why */ SELECT(1)",
        "SHOW TABLES",
        "DESCRIBE TABLE sample_results",
        "EXISTS TABLE runs",
    ],
)
def test_read_statements_pass(sql: str) -> None:
    statement = read_only_statement(sql)
    assert "SELECT" in statement.upper() or statement.split()[0].upper() in {
        "SHOW",
        "DESCRIBE",
        "EXISTS",
    }


def test_selects_run_in_readonly_mode() -> None:
    assert read_only_statement("SELECT 1;").endswith("SETTINGS readonly = 1")


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("DROP TABLE runs", "not DROP"),
        ("INSERT INTO runs VALUES ('a')", "not INSERT"),
        ("ALTER TABLE runs DELETE WHERE 1", "not ALTER"),
        ("SELECT 1; DROP TABLE runs", "one statement"),
        ("-- only a comment", "empty"),
        ("", "empty"),
        ("OPTIMIZE TABLE runs FINAL", "not OPTIMIZE"),
    ],
)
def test_anything_else_is_refused(sql: str, why: str) -> None:
    with pytest.raises(NotReadOnly, match=why):
        read_only_statement(sql)
