"""A task-runner killed in the middle of its jobs: the supervisor restarts it, the jobs it held
are scored again (by it or the other runner), and every (checkpoint, dataset, sample, mode)
is stored exactly once; no checkpoint is left unfinished and no endpoint stays loaded."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from pathlib import Path

import pytest
import tritonclient.grpc as triton

from kiseki.cli import main as cli
from kiseki.core.store import open_store
from kiseki.evaluation.synthetic import write_all
from kiseki.stack.progress import checkpoint_states
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir
from support.polling import poll_until

SUITES = ["synth_nli", "synth_qa"]
SAMPLES = 160  # per suite: jobs last seconds, so the kill lands inside one
# Generation of both suites, log-likelihood of synth_nli (synth_qa has no labels).
ROWS_PER_CHECKPOINT = 3 * SAMPLES


def _states(stack: LocalStack) -> dict[str, int]:
    stack.check()  # restarts what died, as `kiseki up` does
    return asyncio.run(checkpoint_states(stack.control_address, "run"))


def _models_loaded(orchestrator_dir: Path) -> list[str]:
    port = json.loads((orchestrator_dir / "tritonserver.json").read_text())["grpc_port"]
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        index = client.get_model_repository_index(as_json=True).get("models", [])
    finally:
        client.close()
    return [m["name"] for m in index if m.get("state") == "READY"]


def _runner_in_a_job(logs: Path) -> str | None:
    """A runner whose log shows a job started and not done yet."""
    for log in sorted(logs.glob("runner-*.log")):
        text = log.read_text(errors="replace")
        if text.count('"job started"') > text.count('"job done"'):
            return log.stem
    return None


def _jobs_done(logs: Path) -> int:
    return sum(log.read_text(errors="replace").count('"job done"') for log in logs.glob("runner-*"))


def test_a_runner_killed_mid_job_loses_and_duplicates_nothing(
    tiny_checkpoints: dict[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_RUNNER_ITEMS_PER_REQUEST", "8")
    datasets, watched = tmp_path / "datasets", tmp_path / "run"
    write_all(datasets, {"test": SAMPLES})
    watched.mkdir()
    policy = {
        "budget": {"max_endpoints": 1},
        "runs": {"*": {"suites": SUITES, "scoring_modes": ["generate", "loglikelihood"]}},
    }
    settings = StackSettings(tmp_path / "stack", [WatchedDir("run", watched)], policy, datasets, 2)
    stack = LocalStack(settings)
    stack.start()
    try:
        stack.wait_ready()
        for step, checkpoint in tiny_checkpoints.items():
            shutil.copytree(checkpoint, watched / f"checkpoint-{step}")
        busy = poll_until(lambda: _runner_in_a_job(settings.workdir / "logs"), timeout_s=300)
        assert stack.supervisor is not None
        assert busy is not None
        stack.supervisor.process(busy).signal(signal.SIGKILL)
        poll_until(lambda: _states(stack) == {"done": 2}, timeout_s=600, interval_s=0.2)
        assert stack.supervisor.restarts()[busy] == 1
        # The restarted runner rejoined its group and says so.
        poll_until(lambda: stack.not_ready() == [], timeout_s=120, interval_s=0.2)
        assert _models_loaded(settings.workdir / "orchestrator") == []
        # A backfill of one suite of step 60 from the CLI: one job more, no row more.
        jobs_done = _jobs_done(settings.workdir / "logs")
        address = (settings.workdir / "control.address").read_text().strip()
        argv = ["evaluate", "run", "--steps", "60", "--suites", "synth_qa", "--modes", "generate"]
        assert cli([*argv, "--control", address]) == 0
        assert _states(stack).get("done") == 1  # step 60 is being evaluated again
        poll_until(lambda: _states(stack) == {"done": 2}, timeout_s=300, interval_s=0.2)
        assert _jobs_done(settings.workdir / "logs") == jobs_done + 1
    finally:
        stack.stop()
    store = open_store(f"chdb:{settings.workdir / 'store'}")
    try:
        [counts] = store.query(
            "SELECT count() AS rows, uniqExact(checkpoint_id, dataset, sample_index, scoring_mode)"
            " AS distinct_rows FROM sample_results FINAL"
        )
        [raw] = store.query("SELECT count() AS rows FROM sample_results")
    finally:
        store.close()
    expected = len(tiny_checkpoints) * ROWS_PER_CHECKPOINT
    assert counts == {"rows": expected, "distinct_rows": expected}
    assert raw["rows"] >= expected  # redelivered samples may sit unmerged; FINAL counts once
