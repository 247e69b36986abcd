"""The local stack on a real ClickHouse server (`kiseki up --store http://…`): the sink writes
every row there once, and the query commands then read the server directly."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import pytest

from kiseki.cli import main as cli
from kiseki.core.store import open_store
from kiseki.evaluation.synthetic import write_all
from kiseki.local.clickhouse import LocalClickHouse
from kiseki.stack.progress import checkpoint_states
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir
from kiseki.stack.workdir import STORE_URL_FILE, reader_store_url
from support.polling import poll_until

SAMPLES = 8


def test_the_stack_writes_to_the_server_and_the_commands_read_it(
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
    clickhouse: LocalClickHouse,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = clickhouse.url(f"t_{uuid.uuid4().hex[:16]}")
    datasets, watched = tmp_path / "datasets", tmp_path / "run"
    write_all(datasets, {"test": SAMPLES})
    watched.mkdir()
    policy = {
        "runs": {"*": {"suites": ["synth_nli"], "scoring_modes": ["generate", "loglikelihood"]}}
    }
    settings = StackSettings(
        tmp_path / "stack", [WatchedDir("run", watched)], policy, datasets, store_url=url
    )
    stack = LocalStack(settings)
    stack.start()
    try:
        stack.wait_ready()
        assert (settings.workdir / STORE_URL_FILE).read_text().strip() == url
        for step, checkpoint in tiny_checkpoints.items():
            shutil.copytree(checkpoint, watched / f"checkpoint-{step}")

        def done() -> bool:
            stack.check()
            return asyncio.run(checkpoint_states(stack.control_address, "run")) == {"done": 2}

        poll_until(done, timeout_s=300, interval_s=0.5)
        assert reader_store_url(settings.workdir) == url  # not the Query service: the server
        assert cli(["runs", "--workdir", str(settings.workdir), "--format", "csv"]) == 0
        assert "run," in capsys.readouterr().out
    finally:
        stack.stop()
    store = open_store(url)
    try:
        poll_until(
            lambda: (
                store.query("SELECT count() AS n FROM sample_results FINAL")[0]["n"]
                == len(tiny_checkpoints) * 2 * SAMPLES
            ),
            timeout_s=60,
        )
    finally:
        store.close()
