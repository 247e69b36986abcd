"""The following rate against the score, on a store with known values (both stores)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.core.store import Store, apply_schema, open_store
from kiseki.report import following
from support.analytics import RUN, STEPS, TOKENS_PER_STEP, fill


def test_rate_score_and_baseline_per_checkpoint(store: Store) -> None:
    fill(store)  # jnli: first sample always in form, the second from step 3 on
    rows = following.following(store, [RUN], dataset="jnli")
    assert [(r["step"], r["tokens_seen"]) for r in rows] == [
        (s, s * TOKENS_PER_STEP) for s in STEPS
    ]
    assert [r["rate"] for r in rows] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert [r["score"] for r in rows] == [0.0, 0.5, 0.5, 0.5, 1.0, 1.0]
    assert {r["baseline"] for r in rows} == {0.5}
    [line] = following.summary(rows)
    assert (line["followed_at_step"], line["score_then"], line["baseline"]) == (3, 0.5, 0.5)
    assert line["score_at_baseline"] is True  # the format came first, the answers later
    nli = following.following(store, [RUN], category="NLI")
    assert [r["rate"] for r in nli] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert [r["baseline"] for r in nli] == pytest.approx([0.375] * len(STEPS))


def test_the_command_prints_the_summary_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    apply_schema(store)
    fill(store)
    store.close()
    url = ["--store", f"chdb:{tmp_path / 'store'}"]
    plot = tmp_path / "following.png"
    argv = ["following", RUN, "--category", "NLI", "--summary", "--plot", str(plot), *url]
    assert main([*argv, "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"plot: {plot}"
    assert out[1].startswith("run_id,followed_at_step")
    assert plot.stat().st_size > 0
    assert main(["following", RUN, "--dataset", "nope", *url]) == 2
