"""Runs at equal tokens, emergence order and a prediction, on a store with known values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.core.store import Store, apply_schema, open_store
from kiseki.evaluation.extrapolation import at_tokens
from kiseki.report import compare, queries
from support.analytics import RUN, fill


def test_scores_at_equal_tokens_and_the_emergence_order(store: Store) -> None:
    fill(store)
    rows = {r["category"]: r for r in compare.at_equal_tokens(store, [RUN], 2500, "generate", 2)}
    avg = queries.trajectory(store, [RUN], "AVG", "generate", 2)
    expected = at_tokens([(r["tokens_seen"], r["score_ma"]) for r in avg], 2500)
    assert rows["AVG"]["score_ma"] == pytest.approx(expected, abs=1e-4)  # rounded to 4 places
    assert rows["AVG"]["tokens"] == 2500
    order = compare.emergence(store, [RUN], "generate", 1)
    assert [(r["rank"], r["category"]) for r in order] == [(1, "NLI")]  # RC has no baseline


def test_predict_and_compare_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    apply_schema(store)
    fill(store)
    store.close()
    url = ["--store", f"chdb:{tmp_path / 'store'}", "--format", "json"]
    assert main(["predict", RUN, "--category", "NLI", "--at-tokens", "1e4", *url]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["low"] <= row["predicted"] <= row["high"]
    assert row["checkpoints"] == 6
    assert main(["compare", RUN, "--at-tokens", "3000", *url]) == 0
    assert {r["category"] for r in json.loads(capsys.readouterr().out)} == {"NLI", "RC", "AVG"}
    assert main(["compare", RUN, *url]) == 2
