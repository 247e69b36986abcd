"""The README's main job: two sizes of a real pretraining evaluated checkpoint by checkpoint,
every (checkpoint, dataset, sample, mode) stored exactly once, the per-category table, shapes,
following rate and comparison printed, plots written, majority baselines stored, and no
third-party progress bar in the output. Once on the demo's own chDB store, once on a
ClickHouse server (KISEKI_STORE_URL, as `make demo` takes it)."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

from kiseki.core.store import open_store

REPO = Path(__file__).resolve().parents[2]
# Steps 0..5: six checkpoints for each of the two sizes (twelve in all, as one size to step 20
# was: the short form shows the two runs and every report, not the shapes, which need the
# full schedule's later steps).
LAST_STEP = 5
CHECKPOINTS = 6
RUNS = ["tiny-gpt-2x128", "tiny-gpt-2x64"]
# Per checkpoint: 5 datasets × 40 samples generated; synth_nli and synth_mc (the ones with
# labels) × 40 samples by log-likelihood.
ROWS_PER_CHECKPOINT = 5 * 40 + 2 * 40


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
    assert "Writing model shards" not in result.stdout + result.stderr
    assert "\n\n\n" not in result.stdout
    assert f"{CHECKPOINTS} done" in result.stdout
    live = result.stdout.split("Query service (kiseki runs):\n", 1)[1].splitlines()
    assert [line.split()[0] for line in live[2:4]] == RUNS
    assert all(str(CHECKPOINTS) in line.split() for line in live[2:4])
    assert "per-category trajectory (generate" in result.stdout
    assert "per-category trajectory (loglikelihood" in result.stdout
    assert "trajectory shapes" in result.stdout
    assert "significant drops between checkpoints" in result.stdout
    assert "format-following rate against the score" in result.stdout
    assert f"compared at {LAST_STEP * 16 * 128:,} tokens" in result.stdout
    plots = sorted((tmp_path / "plots").iterdir())
    assert [p.name for p in plots] == [
        "AVG.png",
        "FA.png",
        "MC.png",
        "MR.png",
        "NLI.png",
        "QA.png",
        "following-QA.png",
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
        baselines = store.query(
            "SELECT run_id, dataset, score FROM baselines FINAL ORDER BY run_id, dataset"
        )
    finally:
        store.close()
    assert counts == {
        "rows": len(RUNS) * CHECKPOINTS * ROWS_PER_CHECKPOINT,
        "distinct_rows": len(RUNS) * CHECKPOINTS * ROWS_PER_CHECKPOINT,
        "checkpoints": len(RUNS) * CHECKPOINTS,
    }
    datasets = ["synth_arith", "synth_mc", "synth_ner", "synth_nli", "synth_qa"]
    assert [(b["run_id"], b["dataset"]) for b in baselines] == [
        (run, dataset) for run in RUNS for dataset in datasets
    ]
    assert all(0.0 <= b["score"] <= 1.0 for b in baselines)
