"""The sink alone, soaked: a real `python -m kiseki.sink` process (chDB, Tansu, its Query
service) takes a run's records checkpoint after checkpoint, as fast as it stores them, and its
RSS and open fds must not grow with the checkpoints.

The stack's soak (test_soak_run.py) pays seconds of serving per checkpoint, so its short form
sees a few dozen checkpoints: the sink's growth it reported there (+173 MiB and +81 fds per
1,000) was the warm-up of chDB's caches, which an in-process run of the sink's store path saw
level off after ~300 checkpoints. Here thousands go through in minutes: each checkpoint is
discovered, evaluated in two modes (a job of SAMPLES samples each, as the runners send them)
and DONE, so every insert path, the regression check of each scored triple and the Query
service are exercised. `make soak` runs it with the stack's soak (KISEKI_SOAK_FORM=long: 3,000
checkpoints; short: 400, slopes printed, not asserted).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import ProtoProducer
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.store.query_api import RemoteStore
from kiseki.local.process import free_port, service_ready
from kiseki.v1 import events_pb2 as ev
from support.polling import poll_until
from support.soak import Samples

LONG = os.environ.get("KISEKI_SOAK_FORM") == "long"
CHECKPOINTS = int(os.environ.get("KISEKI_SINK_SOAK_CHECKPOINTS", "3000" if LONG else "400"))
BLOCK = 25  # checkpoints sent before the sink must have stored them (and one sample taken)
SAMPLES, RUN, DATASET = 4, "soak", "chaos_nli"
MODES = (ev.SCORING_MODE_GENERATE, ev.SCORING_MODE_LOGLIKELIHOOD)
SERVICES = Path(__file__).resolve().parents[2] / "services"
STORED = """
SELECT (SELECT uniqExact(checkpoint_id) FROM checkpoint_status WHERE state = 'DONE') AS done,
       (SELECT count() FROM sample_results) AS rows
"""


def _records(index: int) -> list[tuple[str, object]]:
    """(topic kind, message) of one checkpoint's life, in the order the services send them."""
    checkpoint_id, step = f"{RUN}-s{index}", index * 10
    discovered = ev.CheckpointDiscovered(
        checkpoint_id=checkpoint_id, run_id=RUN, step=step, uri=f"/ckpt/{RUN}/{step}"
    )
    records: list[tuple[str, object]] = [("checkpoints", discovered)]
    for state in (ev.CHECKPOINT_STATE_DISCOVERED, ev.CHECKPOINT_STATE_EVALUATING):
        records.append(("status", _status(checkpoint_id, step, state)))
    for mode in MODES:
        job_id = f"{checkpoint_id}-{DATASET}-m{mode}"
        results = ev.JobResults(
            summary=ev.JobSummary(
                job_id=job_id, checkpoint_id=checkpoint_id, run_id=RUN, step=step,
                dataset=DATASET, scoring_mode=mode, shard_count=1, num_samples=SAMPLES,
                scores={"exact_match": 0.5},
            )
        )  # fmt: skip
        for sample in range(SAMPLES):
            prompt = f"### 入力:\n前提と仮説 {sample}\n### 応答:\n"
            correct = (index + sample) % 3 != 0
            results.samples.add(
                job_id=job_id, checkpoint_id=checkpoint_id, run_id=RUN, step=step,
                dataset=DATASET, sample_index=sample, scoring_mode=mode, prompt=prompt,
                prompt_hash=prompt_hash(prompt), raw_output="entailment", prediction="entailment",
                gold="entailment" if correct else "neutral",
                metrics={"exact_match": float(correct)}, format_followed=True, latency_ms=3.0,
            )  # fmt: skip
        records.append(("results", results))
    records.append(("status", _status(checkpoint_id, step, ev.CHECKPOINT_STATE_DONE)))
    return records


def _status(checkpoint_id: str, step: int, state: int) -> ev.CheckpointStatus:
    status = ev.CheckpointStatus(checkpoint_id=checkpoint_id, run_id=RUN, step=step)
    status.state = state  # type: ignore[assignment]
    status.source = "orchestrator"
    status.changed_at.FromNanoseconds(time.time_ns())
    return status


async def _send(config: KafkaConfig, first: int, count: int) -> None:
    topics = config.topics
    names = {"checkpoints": topics.checkpoints, "status": topics.status, "results": topics.results}
    producer = ProtoProducer(config, "soak")
    await producer.start()
    try:
        for index in range(first, first + count):
            for kind, message in _records(index):
                await producer.send(names[kind], message, key=f"{RUN}-s{index}")  # type: ignore[arg-type]
    finally:
        await producer.stop()


def _start_sink(config: KafkaConfig, tmp_path: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    health, query = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SERVICES),
        "KISEKI_KAFKA_BOOTSTRAP": config.bootstrap_servers,
        "KISEKI_TOPIC_PREFIX": config.topic_prefix,
        "KISEKI_STORE_URL": f"chdb:{tmp_path / 'store'}",
        "KISEKI_HEALTH_PORT": str(health),
        "KISEKI_QUERY_PORT": str(query),
    }
    log = (tmp_path / "sink.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "kiseki.sink"], stderr=log, env=env)
    return process, health, query


@pytest.mark.parametrize("broker", ["tansu"], indirect=True)
def test_the_sink_holds_steady_over_thousands_of_checkpoints(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    sink, health, query = _start_sink(kafka_config, tmp_path)
    samples, started = Samples(), time.monotonic()
    try:
        poll_until(lambda: service_ready(health), timeout_s=120, interval_s=0.5)
        remote = RemoteStore(f"127.0.0.1:{query}")

        def stored(count: int) -> bool:
            assert sink.poll() is None, (tmp_path / "sink.log").read_text()[-3000:]
            [row] = remote.query(STORED)
            return int(row["done"]) >= count and int(row["rows"]) >= count * len(MODES) * SAMPLES

        for first in range(0, CHECKPOINTS, BLOCK):
            done = min(first + BLOCK, CHECKPOINTS)
            asyncio.run(_send(kafka_config, first, done - first))
            poll_until(partial(stored, done), timeout_s=300, interval_s=0.2)
            samples.process("sink", sink.pid, done)
        [rows] = remote.query(
            "SELECT count() AS n, uniqExact(checkpoint_id, scoring_mode, sample_index) AS once"
            " FROM sample_results FINAL"
        )
        remote.close()
    finally:
        sink.terminate()
        sink.wait(timeout=60)
    figures = {
        "form": "long" if LONG else "short",
        "checkpoints": CHECKPOINTS,
        "duration_s": round(time.monotonic() - started),
        "slopes": samples.verdicts(),
    }
    print("\nsink soak figures: " + json.dumps(figures))
    assert int(rows["n"]) == int(rows["once"]) == CHECKPOINTS * len(MODES) * SAMPLES
    assert sink.returncode == 0
    if LONG:
        assert samples.growing() == [], samples.verdicts()
