"""The README's main job: a real pretraining evaluated checkpoint by checkpoint, every
(checkpoint, dataset, sample, mode) stored exactly once, the per-category table and shapes
printed, plots written, majority baselines stored. Once on the demo's own chDB store, once on
a ClickHouse server (KISEKI_STORE_URL, as `make demo` takes it)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from kiseki.core.store import open_store

REPO = Path(__file__).resolve().parents[2]
# Steps 0..9, 10, 20: twelve checkpoints.
LAST_STEP = 20
CHECKPOINTS = 12
# Per checkpoint: 4 datasets × 40 samples generated; synth_nli and synth_mc (the ones with
# labels) × 40 samples by log-likelihood.
ROWS_PER_CHECKPOINT = 4 * 40 + 2 * 40


def test_demo_evaluates_every_checkpoint_once(tmp_path: Path, store_url: str) -> None:
    env = {
        **os.environ,
        "KISEKI_DEMO_LAST_STEP": str(LAST_STEP),
        "KISEKI_DEMO_WORKDIR": str(tmp_path),
    }
    if store_url.startswith("chdb:"):  # the demo's own store, where the commands look for it
        env.pop("KISEKI_STORE_URL", None)
        store_url = f"chdb:{tmp_path / 'stack' / 'store'}"
    else:
        env["KISEKI_STORE_URL"] = store_url
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{CHECKPOINTS} done" in result.stdout
    live = result.stdout.split("Query service (kiseki runs):\n", 1)[1].splitlines()
    assert live[2].split()[0] == "tiny-gpt"
    assert str(CHECKPOINTS) in live[2].split()
    assert "per-category trajectory (generate" in result.stdout
    assert "per-category trajectory (loglikelihood" in result.stdout
    assert "trajectory shapes" in result.stdout
    assert "significant drops between checkpoints" in result.stdout
    plots = sorted((tmp_path / "plots").iterdir())
    assert [p.name for p in plots] == [
        "AVG.png",
        "MC.png",
        "MR.png",
        "NLI.png",
        "QA.png",
        "shapes-generate.png",
        "shapes-loglikelihood.png",
    ]
    assert all(p.stat().st_size > 10_000 for p in plots)
    # The commands it suggests work on the store it left (here told where it is).
    suggested = result.stdout.split("try next", 1)[1].splitlines()[1:]
    assert len(suggested) >= 5
    for line in suggested:
        argv = [*shlex.split(line.strip()), "--store", store_url]
        done = subprocess.run(
            [str(REPO / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=120
        )
        nothing_found = done.returncode == 2 and "no significant drop" in done.stderr
        assert done.returncode == 0 or nothing_found, (line, done.stderr)
    store = open_store(store_url)
    try:
        [counts] = store.query(
            "SELECT count() AS rows, uniqExact(checkpoint_id, dataset, sample_index, scoring_mode)"
            " AS distinct_rows, uniqExact(checkpoint_id) AS checkpoints FROM sample_results FINAL"
        )
        baselines = store.query("SELECT dataset, score FROM baselines FINAL ORDER BY dataset")
    finally:
        store.close()
    assert counts == {
        "rows": CHECKPOINTS * ROWS_PER_CHECKPOINT,
        "distinct_rows": CHECKPOINTS * ROWS_PER_CHECKPOINT,
        "checkpoints": CHECKPOINTS,
    }
    assert [b["dataset"] for b in baselines] == ["synth_arith", "synth_mc", "synth_nli", "synth_qa"]
    assert all(0.0 <= b["score"] <= 1.0 for b in baselines)
