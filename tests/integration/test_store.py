"""The store's schema, idempotent inserts and window-function views, on chDB and a server."""

from __future__ import annotations

import pytest

from kiseki.core.store import Store, StoreError, apply_schema, open_store
from kiseki.core.store.base import BadStatement
from kiseki.core.store.prompts import insert_sample_rows


def _sample(step: int, index: int, exact: float, checkpoint: str = "") -> dict[str, object]:
    return {
        "run_id": "run",
        "checkpoint_id": checkpoint or f"ck-{step}",
        "step": step,
        "dataset": "jnli",
        "sample_index": index,
        "scoring_mode": "generate",
        "job_id": f"job-{step}",
        "prompt": "前提と仮説の関係を答えよ",
        "raw_output": "entailment\n\n",
        "prediction": "entailment",
        "gold": "entailment",
        "metrics": {"exact_match": exact},
        "format_followed": 1,
        "latency_ms": 3.0,
        "choice_logprobs": [-0.1, -2.0],
    }


def test_schema_applies_twice(store: Store) -> None:
    apply_schema(store)
    tables = {row["name"] for row in store.query("SHOW TABLES")}
    assert {"runs", "checkpoints", "checkpoint_status", "deployments", "sample_results"} <= tables
    assert {"dataset_scores", "dataset_scores_moving_avg", "checkpoint_latest_status"} <= tables


def test_rows_inserted_twice_are_counted_once(store: Store) -> None:
    rows = [_sample(10, i, float(i % 2)) for i in range(4)]
    insert_sample_rows(store, rows, dedup_token="job-10")
    insert_sample_rows(store, rows, dedup_token="job-10")  # a retried batch
    insert_sample_rows(store, rows[:2])  # a replay in another batch, no token
    [score] = store.query("SELECT score, samples FROM dataset_scores")
    assert score == {"score": 0.5, "samples": 4}
    [final] = store.query("SELECT count() AS n FROM sample_results FINAL")
    assert final["n"] == 4


def test_moving_average_window_over_steps(store: Store) -> None:
    for step, exact in [(0, 0.0), (1, 1.0), (2, 1.0), (3, 0.0)]:
        insert_sample_rows(store, [_sample(step, 0, exact)])
    rows = store.query(
        "SELECT step, score_ma20 FROM dataset_scores_moving_avg "
        "WHERE run_id = {run:String} AND metric = 'exact_match' ORDER BY step",
        {"run": "run"},
    )
    assert [(r["step"], round(r["score_ma20"], 4)) for r in rows] == [
        (0, 0.0),
        (1, 0.5),
        (2, 0.6667),
        (3, 0.5),
    ]


def test_latest_status_is_the_newest_change(store: Store) -> None:
    changes = [("DISCOVERED", 1), ("DEPLOYING", 2), ("FAILED", 3)]
    rows = [
        {
            "checkpoint_id": "ck",
            "run_id": "run",
            "step": 5,
            "state": state,
            "reason": "corrupt header" if state == "FAILED" else "",
            "source": "test",
            "changed_at": f"2026-11-22 10:00:0{second}.000",
        }
        for state, second in changes
    ]
    store.insert_rows("checkpoint_status", rows[::-1])
    store.insert_rows("checkpoint_status", rows)  # redelivered events
    [latest] = store.query("SELECT state, reason FROM checkpoint_latest_status")
    assert latest == {"state": "FAILED", "reason": "corrupt header"}


def test_bad_sql_and_bad_rows_give_clear_errors(store: Store) -> None:
    with pytest.raises(BadStatement, match="SYNTAX_ERROR"):
        store.query("SELEC 1")
    with pytest.raises(BadStatement, match="UNKNOWN_TABLE"):
        store.query("SELECT * FROM no_such_table")
    with pytest.raises(BadStatement, match="invalid table name"):
        store.insert_rows("x; DROP TABLE runs", [{"a": 1}])


def test_unsupported_store_url_is_rejected() -> None:
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("postgres://db")


def test_array_parameters_bind_on_both_clients(store: Store) -> None:
    rows = store.query(
        "SELECT {ids:Array(String)} AS ids, has({ids:Array(String)}, 'a''b') AS quoted",
        {"ids": ["a'b", "c\\d", "e"]},
    )
    assert rows == [{"ids": ["a'b", "c\\d", "e"], "quoted": 1}]
