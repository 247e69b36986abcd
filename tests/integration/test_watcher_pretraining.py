"""The watcher publishes exactly the complete checkpoints a real pretraining writes, and a
restarted watcher publishes nothing new."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from kiseki.core.health import Health
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceContext
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.config import WatcherConfig
from kiseki.watcher.loop import run_watcher
from kiseki.watcher.runs import WatchedRun
from support.kafka import consume_all
from tinygpt.train import TrainConfig, train

CONFIG = WatcherConfig(runs_file=Path("unused"), poll_interval_s=0.1, quiet_period_s=0.3)
CORPUS = [f"{a} + {b} = {a + b}\n\n" for a in range(10) for b in range(10)]


async def _watch_until_stopped(
    kafka: KafkaConfig, runs: list[WatchedRun], stop: asyncio.Event
) -> None:
    context = ServiceContext("watcher", Health())
    task = asyncio.create_task(run_watcher(context, kafka, CONFIG, runs))
    await stop.wait()
    context.stopping.set()
    await asyncio.wait_for(task, 30)


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
async def test_watcher_follows_a_real_pretraining(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    root = tmp_path / "run"
    root.mkdir()
    (root / "checkpoint-999").mkdir()  # a checkpoint that never completes
    runs = [WatchedRun("tiny", root, tokens_per_step=16 * 128)]
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch_until_stopped(kafka_config, runs, stop))
    steps = (0, 1, 2, 5, 10)
    trainer = threading.Thread(
        target=train,
        args=(CORPUS, TrainConfig(out_dir=root, checkpoint_steps=steps, batch_size=4, seq_len=32)),
    )
    trainer.start()
    await asyncio.to_thread(trainer.join)
    producer = ProtoProducer(kafka_config, "test")
    await producer.start()
    try:
        found = await consume_all(
            kafka_config, kafka_config.topics.checkpoints, "c", ev.CheckpointDiscovered, producer, 5
        )
        assert sorted(d.message.step for d in found) == list(steps)
        assert {d.message.tokens_seen for d in found} == {s * 4 * 32 for s in steps}
        statuses = await consume_all(
            kafka_config, kafka_config.topics.status, "s", ev.CheckpointStatus, producer, 5
        )
        assert {s.message.checkpoint_id for s in statuses} == {
            d.message.checkpoint_id for d in found
        }
        stop.set()
        await watcher
        # A restarted watcher publishes nothing it published before: the next record on the
        # run's partition is the checkpoint written after the restart.
        again = asyncio.Event()
        restarted = asyncio.create_task(_watch_until_stopped(kafka_config, runs, again))
        later = root / "checkpoint-20"
        shutil.copytree(root / "checkpoint-10", later)
        (later / "trainer_state.json").write_text('{"global_step": 20}')
        [new] = await consume_all(
            kafka_config, kafka_config.topics.checkpoints, "c", ev.CheckpointDiscovered, producer, 1
        )
        assert new.message.step == 20
        again.set()
        await restarted
    finally:
        await producer.stop()
