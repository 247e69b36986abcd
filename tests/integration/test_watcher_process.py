"""`python -m kiseki.watcher` against a real broker while writer processes save checkpoints:
it publishes exactly the complete ones, never before the writer finished them, reports the
one that never completes as FAILED, keeps going past a run whose root is missing, and after
a restart publishes nothing it published before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Generic

import pytest

from kiseki.core.ids import checkpoint_id
from kiseki.core.kafka import M, ensure_topics
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.kafka_tail import TopicTail
from kiseki.v1 import events_pb2 as ev
from support.polling import poll_until, poll_until_async

REPO = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(str(REPO / d) for d in ("services", "tests"))


class Topic(Generic[M]):
    """Everything on a topic so far, read without a consumer group."""

    def __init__(self, tail: TopicTail[M]) -> None:
        self.tail, self.messages = tail, list[M]()

    async def at_least(self, count: int) -> list[M]:
        self.messages.extend(d.message for d in await self.tail.read(timeout_ms=200))
        return self.messages if len(self.messages) >= count else []

    async def all(self) -> list[M]:
        self.messages.extend(d.message for d in await self.tail.read_to_end())
        return self.messages


def _start_watcher(kafka: KafkaConfig, runs_file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "KISEKI_KAFKA_BOOTSTRAP": kafka.bootstrap_servers,
        "KISEKI_TOPIC_PREFIX": kafka.topic_prefix,
        "KISEKI_WATCH_RUNS_FILE": str(runs_file),
        "KISEKI_WATCH_POLL_INTERVAL_S": "0.1",
        "KISEKI_WATCH_QUIET_PERIOD_S": "0.3",
        "KISEKI_WATCH_INCOMPLETE_TIMEOUT_S": "2",
        "KISEKI_HEALTH_PORT": "0",
    }
    with log.open("ab") as stderr:
        return subprocess.Popen([sys.executable, "-m", "kiseki.watcher"], env=env, stderr=stderr)


def _stop(watcher: subprocess.Popen[bytes]) -> int:
    watcher.send_signal(signal.SIGTERM)
    return watcher.wait(timeout=30)


def _write(root: Path, fmt: str, steps: list[int], log: Path) -> subprocess.Popen[bytes]:
    argv = ["-m", "support.checkpoints", str(root), fmt, *map(str, steps)]
    return subprocess.Popen(
        [sys.executable, *argv, "--seed", str(steps[0]), "--log", str(log)],
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
    )


def _completed_at(log: Path) -> dict[str, float]:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return {line["directory"]: line["completed_at"] for line in lines}


@pytest.fixture
def watcher_log(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "watcher.log"
    log.touch()
    yield log
    print(log.read_text()[-4000:])  # shown by pytest when the test failed


async def test_watcher_process_publishes_complete_checkpoints_once(
    kafka_config: KafkaConfig, tmp_path: Path, watcher_log: Path
) -> None:
    trainer_root, megatron_root = tmp_path / "trainer", tmp_path / "megatron"
    (trainer_root / "checkpoint-999").mkdir(parents=True)  # a save that died: never completes
    (trainer_root / "checkpoint-999" / "optimizer.pt").write_bytes(b"\0" * 16)
    megatron_root.mkdir()
    runs = [
        {"run_id": "missing", "root": str(tmp_path / "not-mounted")},
        {"run_id": "hf", "root": str(trainer_root), "tokens_per_step": 100, "tags": {"k": "v"}},
        {"run_id": "mg", "root": str(megatron_root), "tokens_per_step": 100},
    ]
    runs_file = tmp_path / "runs.json"
    runs_file.write_text(json.dumps(runs))
    topics = kafka_config.topics
    await ensure_topics(kafka_config, {topics.checkpoints: 3, topics.status: 3})
    checkpoints = Topic(TopicTail(kafka_config, {topics.checkpoints: ev.CheckpointDiscovered}))
    statuses = Topic(TopicTail(kafka_config, {topics.status: ev.CheckpointStatus}))
    await checkpoints.tail.start()
    await statuses.tail.start()
    written = tmp_path / "written.jsonl"
    try:
        watcher = _start_watcher(kafka_config, runs_file, watcher_log)
        writers = [
            _write(trainer_root, "hf-trainer", [1, 2, 3], written),
            _write(megatron_root, "megatron", [10, 20], written),
        ]
        assert [w.wait(timeout=60) for w in writers] == [0, 0]
        found = await poll_until_async(lambda: checkpoints.at_least(5), timeout_s=30)
        assert sorted((m.run_id, m.step) for m in found) == [
            ("hf", 1), ("hf", 2), ("hf", 3), ("mg", 10), ("mg", 20),
        ]  # fmt: skip
        completed_at = _completed_at(written)
        for message in found:
            assert message.checkpoint_id == checkpoint_id(message.run_id, message.step, message.uri)
            assert (
                message.discovered_at.ToNanoseconds() / 1e9 >= completed_at[Path(message.uri).name]
            )
            assert message.tokens_seen == message.step * (1000 if message.run_id == "hf" else 100)
        assert {m.run_id: dict(m.metadata) for m in found}["hf"] == {"k": "v"}
        await poll_until_async(lambda: statuses.at_least(6), timeout_s=15)
        [failed] = [s for s in statuses.messages if s.state == ev.CHECKPOINT_STATE_FAILED]
        assert failed.step == 999
        assert "trainer_state.json not written yet" in failed.reason
        discovered = [s for s in statuses.messages if s.state == ev.CHECKPOINT_STATE_DISCOVERED]
        assert sorted(s.checkpoint_id for s in discovered) == sorted(m.checkpoint_id for m in found)
        assert _stop(watcher) == 0

        # Restarted, it publishes only what is new: the saves made after the restart.
        watcher = _start_watcher(kafka_config, runs_file, watcher_log)
        poll_until(lambda: watcher_log.read_text().count('"msg": "watching"') == 2, 30)
        writers = [
            _write(trainer_root, "hf-trainer", [4], written),
            _write(megatron_root, "megatron", [30], written),
        ]
        assert [w.wait(timeout=60) for w in writers] == [0, 0]
        found = await poll_until_async(lambda: checkpoints.at_least(7), timeout_s=30)
        assert sorted((m.run_id, m.step) for m in found[5:]) == [("hf", 4), ("mg", 30)]
        assert len({m.checkpoint_id for m in found}) == 7
        await poll_until_async(lambda: statuses.at_least(8), timeout_s=15)
        assert _stop(watcher) == 0
        assert len(await checkpoints.all()) == 7, "published again after the restart"
        discovered = [s for s in await statuses.all() if s.state == ev.CHECKPOINT_STATE_DISCOVERED]
        assert len(discovered) == len({s.checkpoint_id for s in discovered}) == 7
    finally:
        await checkpoints.tail.stop()
        await statuses.tail.stop()
