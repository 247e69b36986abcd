"""Orchestrator restart: rebuilding its view from a log that holds many finished checkpoints.

The log: FINISHED checkpoints, each with its statuses and JOBS result records of SAMPLES
scored samples (few-shot prompts of about a kilobyte), and one checkpoint in flight with half
its jobs reported. Measures, each in a fresh process: the orchestrator's rebuild (results
decoded only for checkpoints in flight, by their key, a batch at a time, from when the
earliest of them was asked for) against the baseline of decoding and holding the whole replay
before applying it. Both must agree on the view. On Tansu and on Apache Kafka (Tansu has no
time index: it replays the whole results topic, undecoded). Prints one JSON object: seconds
and peak memory of each, and the ratios.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services")]

from kiseki.core.kafka import ProtoProducer, ensure_topics  # noqa: E402
from kiseki.core.kafka_config import KafkaConfig  # noqa: E402
from kiseki.core.kafka_tail import TopicTail  # noqa: E402
from kiseki.local.brokers import start_apache_kafka, start_tansu  # noqa: E402
from kiseki.orchestrator.config import OrchestratorConfig  # noqa: E402
from kiseki.orchestrator.deployer import LocalTritonDeployer  # noqa: E402
from kiseki.orchestrator.loop import Orchestrator  # noqa: E402
from kiseki.orchestrator.policy import parse_policies  # noqa: E402
from kiseki.orchestrator.state import Fleet  # noqa: E402
from kiseki.serving.endpoints import LocalEndpointManager  # noqa: E402
from kiseki.v1 import events_pb2 as ev  # noqa: E402

FINISHED, JOBS, SAMPLES = 300, 8, 50
IN_FLIGHT = "in-flight"
POLICY = {"runs": {"*": {"suites": ["jnli"]}}}
PROMPT = "以下は、タスクを説明する指示です。" * 30


def _results(checkpoint_id: str, job: int) -> ev.JobResults:
    job_id = f"{checkpoint_id}/job-{job}"
    samples = [
        ev.SampleResult(
            job_id=job_id,
            checkpoint_id=checkpoint_id,
            dataset="jnli",
            sample_index=index,
            prompt=PROMPT,
            raw_output="entailment",
            prediction="entailment",
            gold="neutral",
            metrics={"exact_match": 0.0, "char_f1": 0.4},
        )
        for index in range(SAMPLES)
    ]
    summary = ev.JobSummary(job_id=job_id, checkpoint_id=checkpoint_id, num_samples=SAMPLES)
    return ev.JobResults(samples=samples, summary=summary)


async def _write_log(kafka: KafkaConfig) -> None:
    await ensure_topics(kafka, kafka.topics.partitions())
    producer = ProtoProducer(kafka, "bench")
    await producer.start()
    try:
        for index in range(FINISHED + 1):
            checkpoint_id = IN_FLIGHT if index == FINISHED else f"ck-{index}"
            checkpoint = ev.CheckpointDiscovered(checkpoint_id=checkpoint_id, run_id="run")
            await producer.send(kafka.topics.checkpoints, checkpoint, key="run")
            last = ev.CHECKPOINT_STATE_EVALUATING if index == FINISHED else ev.CHECKPOINT_STATE_DONE
            for state in (ev.CHECKPOINT_STATE_DISCOVERED, ev.CHECKPOINT_STATE_EVALUATING, last):
                status = ev.CheckpointStatus(checkpoint_id=checkpoint_id, state=state)
                status.changed_at.GetCurrentTime()
                await producer.send(kafka.topics.status, status, key=checkpoint_id)
            for job in range(JOBS // 2 if index == FINISHED else JOBS):
                results = _results(checkpoint_id, job)
                await producer.send(kafka.topics.results, results, key=checkpoint_id)
    finally:
        await producer.stop()


async def _rebuild(kafka: KafkaConfig, workdir: Path) -> Fleet:
    deployer = LocalTritonDeployer(LocalEndpointManager(workdir))
    config = OrchestratorConfig(policy_file=Path("unused"), workdir=workdir)
    orchestrator = Orchestrator(kafka, config, parse_policies(POLICY), deployer)
    tail = await orchestrator.rebuild()
    await tail.stop()
    return orchestrator.fleet


async def _decode_everything(kafka: KafkaConfig) -> Fleet:
    """The baseline: the whole replay decoded and held, then applied."""
    topics = kafka.topics
    types: dict[str, Any] = {
        topics.checkpoints: ev.CheckpointDiscovered,
        topics.status: ev.CheckpointStatus,
        topics.results: ev.JobResults,
    }
    tail: TopicTail[Any] = TopicTail(kafka, types)
    await tail.start()
    try:
        replay = await tail.read_to_end()
    finally:
        await tail.stop()
    fleet = Fleet()
    for delivery in replay:
        message = delivery.message
        if isinstance(message, ev.CheckpointDiscovered):
            fleet.add_checkpoint(message)
        elif isinstance(message, ev.CheckpointStatus):
            fleet.apply_status(message)
        else:
            fleet.apply_summary(message.summary)
    return fleet


def measure(way: str, bootstrap: str, workdir: str) -> None:
    kafka = KafkaConfig(bootstrap_servers=bootstrap, topic_prefix="bench")
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if way == "rebuild":
        fleet = asyncio.run(_rebuild(kafka, Path(workdir)))
    else:
        fleet = asyncio.run(_decode_everything(kafka))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    view = fleet.views[IN_FLIGHT]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_growth_mib": (peak_kib - before_kib) / 1024,
                "in_flight_done": sorted(view.done),
                "checkpoints": len(fleet.views),
            }
        )
    )


def _measured(way: str, bootstrap: str, workdir: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, way, bootstrap, str(workdir)]
    found: dict[str, Any] = json.loads(subprocess.run(argv, check=True, capture_output=True).stdout)
    return found


def _on(kind: str, workdir: Path) -> dict[str, Any]:
    start = start_tansu if kind == "tansu" else start_apache_kafka
    broker = start(workdir / kind)
    try:
        kafka = KafkaConfig(bootstrap_servers=broker.bootstrap_servers, topic_prefix="bench")
        asyncio.run(_write_log(kafka))
        baseline = _measured("baseline", broker.bootstrap_servers, workdir)
        rebuild = _measured("rebuild", broker.bootstrap_servers, workdir)
    finally:
        broker.stop()
    done = rebuild["in_flight_done"]
    if done != baseline["in_flight_done"] or len(done) != JOBS // 2:
        raise SystemExit(f"{kind}: the views differ: {rebuild} vs {baseline}")
    return {
        "rebuild_s": round(rebuild["seconds"], 2),
        "decode_everything_s": round(baseline["seconds"], 2),
        "ratio_time_baseline_over_rebuild": round(baseline["seconds"] / rebuild["seconds"], 1),
        "rebuild_peak_growth_mib": round(rebuild["peak_growth_mib"], 1),
        "decode_everything_peak_growth_mib": round(baseline["peak_growth_mib"], 1),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for kind in ("tansu", "apache_kafka"):
            (workdir / kind).mkdir()
        figures = {kind: _on(kind, workdir) for kind in ("tansu", "apache_kafka")}
    print(
        json.dumps(
            {
                "benchmark": "orchestrator_replay",
                "finished_checkpoints": FINISHED,
                "samples_in_log": (FINISHED * JOBS + JOBS // 2) * SAMPLES,
                **figures,
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        measure(*sys.argv[1:])
    else:
        main()
