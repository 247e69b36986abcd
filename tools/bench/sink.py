"""Sink insert benchmark: the sink's rows/s into chDB and into a real ClickHouse server.

The sink's own path through a real broker, a backlog as a backfill leaves one: jobs of 1,000
SampleResults (~900-character prompts) published as the runner publishes them (each prompt's
text once on the prompts topic, the samples by hash, split into records under the 1 MiB
message limit) to Apache Kafka 4.1, then read by the sink's consumer with the sink's settings
and written by its StoreWriter, the store decoding the samples. Timed from the first fetch
that brings records to the last row. Beside it, in the same rounds: the same jobs published
with every sample's text inline (as the runner did before the prompts topic; the sink cuts the
texts out), and a raw `INSERT ... SELECT` of as many generated rows of the same shape (the
engine alone, no client), in KISEKI_BENCH_SINK_ROUNDS paired rounds (default 3; medians, and
the median of the rounds' ratios). N = KISEKI_BENCH_SINK_ROWS (default 300,000) a round. The
server is kiseki.local's ClickHouse 26.9 on this machine. Prints one JSON object with the
load average: rows/s, the ratios, the sink against the target (>= 200k rows/s to the server),
and the bytes on disk a sample row takes as the sink wrote them, its share of the prompts
table included (the parts unmerged; tools/bench/store.py measures realistic prompts at 10M
rows).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from statistics import median
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services")]

from kiseki.core.config import load_config  # noqa: E402
from kiseki.core.ids import prompt_hash  # noqa: E402
from kiseki.core.kafka import ProtoProducer, ensure_topics  # noqa: E402
from kiseki.core.kafka_batches import BatchConsumer, Rest  # noqa: E402
from kiseki.core.kafka_config import KafkaConfig  # noqa: E402
from kiseki.core.store import Store, apply_schema, open_store  # noqa: E402
from kiseki.local.brokers import LocalBroker, start_apache_kafka  # noqa: E402
from kiseki.local.clickhouse import start_clickhouse  # noqa: E402
from kiseki.runner.chunks import split_results  # noqa: E402
from kiseki.runner.prompts import PromptsOut, texts_header  # noqa: E402
from kiseki.sink.config import SinkConfig  # noqa: E402
from kiseki.sink.loop import routed  # noqa: E402
from kiseki.sink.writer import RESULTS_VIEW, StoreWriter, validate_record  # noqa: E402
from kiseki.v1 import events_pb2 as ev  # noqa: E402

ROWS = int(os.environ.get("KISEKI_BENCH_SINK_ROWS", "300000"))
# Paired rounds (sink, then raw, on each store), medians reported: the machine is shared.
ROUNDS = int(os.environ.get("KISEKI_BENCH_SINK_ROUNDS", "3"))
SAMPLES, TARGET_ROWS_PER_S = 1000, 200_000
# A 4-shot NLI prompt's length (~1,000 characters), the same 1,000 prompts at every checkpoint
# as a run asks them; the output, gold and metrics of a generation.
PROMPT = "前提と仮説の関係をentailment、contradiction、neutralの中から回答してください。\n\n" * 16
RAW = """
INSERT INTO sample_results (run_id, checkpoint_id, step, dataset, sample_index, scoring_mode,
    job_id, prompt_hash, raw_output, prediction, gold, metrics, format_followed, latency_ms,
    choice_logprobs)
SELECT 'raw', concat('ck-', toString(number DIV 1000)), toInt64(number DIV 1000), 'jnli',
       toInt64(number % 1000), 'generate', concat('job-', toString(number DIV 1000)),
       reinterpretAsUInt128(MD5(concat({prompt:String}, toString(number % 1000)))),
       'entailment\n\n', 'entailment', 'neutral',
       map('exact_match', toFloat64(number % 2)), toUInt8(1), 12.5, [-0.1, -2.0]
FROM numbers({rows:UInt64})
"""


def messages(run: str) -> list[ev.JobResults]:
    """A run's jobs, as the runner scores them."""
    records = []
    for job in range(-(-ROWS // SAMPLES)):
        job_id, checkpoint = f"{run}-job-{job}", f"{run}-ck-{job}"
        results = ev.JobResults(
            summary=ev.JobSummary(job_id=job_id, run_id=run, checkpoint_id=checkpoint)
        )
        for index in range(min(SAMPLES, ROWS - job * SAMPLES)):
            prompt = f"{PROMPT}{index}"
            results.samples.add(
                run_id=run, checkpoint_id=checkpoint, step=job, dataset="jnli",
                sample_index=index, scoring_mode=ev.SCORING_MODE_GENERATE, job_id=job_id,
                prompt=prompt, prompt_hash=prompt_hash(prompt), raw_output="entailment\n\n",
                prediction="entailment",
                gold="neutral", metrics={"exact_match": float(index % 2)},
                format_followed=True, latency_ms=12.5, choice_logprobs=[-0.1, -2.0],
            )  # fmt: skip
        records.append(results)
    return records


async def publish(kafka: KafkaConfig, jobs: list[ev.JobResults], inline: bool) -> None:
    """The jobs' results as the runner publishes them: each prompt's text once on the prompts
    topic (PromptsOut), then the samples by hash, split into records; or, `inline`, as it did
    before, every sample with its prompt's text."""
    producer = ProtoProducer(kafka, "bench")
    await producer.start()
    out = PromptsOut(producer, kafka.topics.prompts, kafka.max_message_bytes, 200_000)
    try:
        records = []
        for job in jobs:
            if not inline:
                job = ev.JobResults(samples=await out.publish(job.samples), summary=job.summary)
            records += split_results(job, kafka.max_message_bytes)
        for first in range(0, len(records), 64):  # acknowledged 64 at a time
            await asyncio.gather(
                *(
                    producer.send(
                        kafka.topics.results,
                        r,
                        key=r.summary.checkpoint_id,
                        headers=texts_header(r),
                    )
                    for r in records[first : first + 64]
                )
            )
    finally:
        await producer.stop()


async def sink_path(kafka: KafkaConfig, store: Store, group: str, texts: int) -> float:
    """The seconds the sink's consumer and writer, with the sink's settings, take over the
    backlog (its rows and `texts` prompt texts), from the first fetch that brings records."""
    config = load_config(SinkConfig)
    writer = StoreWriter(store, config.max_insert_rows, config.known_prompts)
    dead_letters = ProtoProducer(kafka, "bench-dlq")
    await dead_letters.start()
    consumer: BatchConsumer[Any] = BatchConsumer(
        kafka,
        {kafka.topics.prompts: ev.PromptText, kafka.topics.results: RESULTS_VIEW},
        group,
        dead_letters,
        validate_record,
        partition_fetch_bytes=config.partition_fetch_bytes,
    )
    await consumer.start()
    rows, prompts, started, finished = 0, 0, 0.0, 0.0

    async def write_results(batch: list[Any]) -> Rest:
        written = await writer.start_results(batch)

        def count(done: Rest) -> None:
            nonlocal rows, finished
            if not done.cancelled() and done.exception() is None:
                rows += sum(len(d.message.samples) for d in batch)
                finished = time.perf_counter()

        written.add_done_callback(count)
        return written

    async def write_prompts(batch: list[Any]) -> None:
        nonlocal prompts, finished
        await writer.write_prompts(batch)
        prompts += len(batch)
        finished = time.perf_counter()

    write = routed({kafka.topics.prompts: write_prompts, kafka.topics.results: write_results})

    try:
        while rows < ROWS or prompts < texts:
            polled = time.perf_counter()
            if await consumer.poll_batch(write, config.poll_timeout_ms, config.max_batch_records):
                started = started or polled
        # To the last row written: the sink learns it is done on its next poll, which the
        # backlog's end makes wait its poll timeout.
        return finished - started
    finally:
        await consumer.stop()
        await dead_letters.stop()


def raw_insert(store: Store) -> float:
    started = time.perf_counter()
    store.command(RAW, {"prompt": PROMPT, "rows": ROWS})
    return time.perf_counter() - started


def bytes_on_disk(store: Store) -> int:
    [row] = store.query(
        "SELECT sum(bytes_on_disk) AS n FROM system.parts WHERE active"
        " AND database = currentDatabase() AND table IN ('sample_results', 'prompts')"
    )
    return int(row["n"])


def measure(kafka: KafkaConfig, stores: dict[str, Store]) -> dict[str, dict[str, list[float]]]:
    """ROUNDS paired rounds. In each, two backlogs (runs and topics of their own) are
    published, one as the runner publishes (texts on the prompts topic), the other with every
    sample's text inline (as it did before); each is read into each store by the sink (in
    turn first), and as many rows are written by the raw INSERT ... SELECT."""
    ways = ("sink", "inline")
    rates: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in ("sink", "inline", "raw", "ratio", "ratio_inline")}
        for name in stores
    }
    for round_ in range(ROUNDS):
        order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
        topics = {key: replace(kafka, topic_prefix=f"{key}-{round_}") for key in order}
        for key, backlog in topics.items():
            asyncio.run(ensure_topics(backlog, backlog.topics.partitions()))
            asyncio.run(publish(backlog, messages(f"{key}-{round_}"), inline=key == "inline"))
        for name, store in stores.items():
            for key in order:
                texts = 0 if key == "inline" else min(SAMPLES, ROWS)
                seconds = asyncio.run(sink_path(topics[key], store, name, texts))
                rates[name][key].append(ROWS / seconds)
                if not round_ and key == "sink":
                    rates[name]["bytes_per_row"] = [bytes_on_disk(store) / ROWS]
                [landed] = store.query(
                    "SELECT count() AS n FROM samples WHERE run_id = {run:String} AND prompt != ''",
                    {"run": f"{key}-{round_}"},
                )
                assert landed["n"] == ROWS, landed  # every row, joined to its text
            raw = ROWS / raw_insert(store)
            rate = rates[name]
            rate["raw"].append(raw)
            rate["ratio"].append(rate["sink"][-1] / raw)
            rate["ratio_inline"].append(rate["sink"][-1] / rate["inline"][-1])
    return rates


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("KISEKI_BENCH_DIR")) as tmp:
        broker: LocalBroker = start_apache_kafka(Path(tmp) / "kafka")
        kafka = load_config(KafkaConfig, {"KISEKI_KAFKA_BOOTSTRAP": broker.bootstrap_servers})
        server = start_clickhouse(Path(tmp) / "server")
        stores = {
            "chdb": open_store(f"chdb:{Path(tmp) / 'chdb'}"),
            "server": open_store(server.url("bench")),
        }
        try:
            for store in stores.values():
                apply_schema(store)
            rates = measure(kafka, stores)
        finally:
            for store in stores.values():
                store.close()
            server.stop()
            broker.stop()
    report: dict[str, object] = {
        "benchmark": "sink_insert",
        "rows": ROWS,
        "rounds": ROUNDS,
        "prompt_chars": len(PROMPT),
        "partition_fetch_bytes": load_config(SinkConfig).partition_fetch_bytes,
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    for name, rate in rates.items():
        report[f"{name}_sink_rows_per_s"] = round(median(rate["sink"]))
        report[f"{name}_raw_insert_select_rows_per_s"] = round(median(rate["raw"]))
        report[f"{name}_ratio_sink_vs_raw"] = round(median(rate["ratio"]), 3)
        report[f"{name}_sink_texts_inline_rows_per_s"] = round(median(rate["inline"]))
        report[f"{name}_ratio_sink_vs_texts_inline"] = round(median(rate["ratio_inline"]), 2)
        report[f"{name}_bytes_on_disk_per_sample_row"] = round(rate["bytes_per_row"][0], 1)
    server_sink = median(rates["server"]["sink"])
    report["target_server_sink_rows_per_s"] = TARGET_ROWS_PER_S
    report["ratio_server_sink_vs_target"] = round(server_sink / TARGET_ROWS_PER_S, 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
