"""Every query of the Grafana dashboard the chart ships runs on both stores and returns the
columns its panel reads, with Grafana's variables filled in as Grafana fills them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiseki.core.store import Store
from support.analytics import RUN, fill

DASHBOARD = Path(__file__).resolve().parents[2] / "charts" / "kiseki" / "files" / "dashboard.json"
# What each panel reads from its query's rows (a new panel needs its line here).
COLUMNS = {
    "A Categories and AVG against training tokens (moving average of 20), with majority"
    " baselines": ["tokens_seen", "series", "score_ma"],
    "B Categories and AVG against training tokens (moving average of 20), with majority"
    " baselines": ["tokens_seen", "series", "baseline"],
    "A Instruction-following rate by category (generated answers in the expected form)": [
        "tokens_seen",
        "series",
        "rate",
    ],
    "A Datasets against training tokens (job summaries)": ["tokens_seen", "series", "score"],
    "A Checkpoints by lifecycle state": ["run_state", "checkpoints"],
    "A Evaluation lag: minutes from a checkpoint's discovery to DONE": [
        "tokens_seen",
        "series",
        "lag_minutes",
    ],
    "A Checkpoint states": [
        "run_id",
        "step",
        "checkpoint_id",
        "state",
        "reason",
        "last_changed_at",
    ],
    "A Significant drops announced while training (against the previous or best checkpoint)": [
        "run_id",
        "step",
        "dataset",
        "scoring_mode",
        "against",
        "against_step",
        "delta",
        "p_value",
        "fell",
        "fell_samples",
        "announced_at",
    ],
    "variable run": ["run_id"],
    "variable dataset": ["dataset"],
}
VARIABLES = {
    "${run:singlequote}": f"'{RUN}'",
    "${mode}": "generate",
    "${dataset:singlequote}": "'jnli','jamp'",
}


def _filled(sql: str) -> str:
    for name, value in VARIABLES.items():
        sql = sql.replace(name, value)
    assert "${" not in sql, sql
    return sql


def _queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [
        (f"{t['refId']} {p['title']}", t["rawSql"])
        for p in dashboard["panels"]
        for t in p["targets"]
    ]
    variables = [
        (f"variable {v['name']}", v["query"])
        for v in dashboard["templating"]["list"]
        if str(v.get("query", "")).startswith("SELECT")
    ]
    return panels + variables


@pytest.mark.parametrize(("panel", "sql"), _queries(), ids=[q[0] for q in _queries()])
def test_a_panel_query_returns_its_columns(store: Store, panel: str, sql: str) -> None:
    fill(store)
    status = {
        "checkpoint_id": f"{RUN}-s1",
        "run_id": RUN,
        "step": 1,
        "state": "DONE",
        "reason": "",
        "source": "orchestrator",
        "changed_at": "2026-11-24 10:00:00.000",
    }
    store.insert_rows("checkpoint_status", [status])
    alert = {"run_id": RUN, "checkpoint_id": f"{RUN}-s2", "step": 2, "dataset": "jnli"}
    alert |= {"scoring_mode": "generate", "against": "previous", "against_step": 1}
    store.insert_rows("regression_alerts", [alert | {"delta": -0.5, "p_value": 0.002}])
    rows = store.query(_filled(sql))
    assert rows, panel
    assert list(rows[0]) == COLUMNS[panel]
