"""Sink insert benchmark: the sink's rows/s into chDB and into a real ClickHouse server.

The sink's own path from the bytes the results topic holds: JobResults records of 1,000
SampleResults each are decoded as the sink's consumer decodes them (kiseki.core.kafka.decode
into the sink's RESULTS_VIEW) and written by StoreWriter.write_results in fetches as the
sink's consumer takes them (KISEKI_SINK_MAX_BATCH_RECORDS, 200 jobs by default; a backlog
fills every fetch), the store decoding the samples. Beside it, on the same store in the same
run, a raw `INSERT ... SELECT` of as many generated rows of the same shape (the engine alone,
no client), in KISEKI_BENCH_SINK_ROUNDS paired rounds (default 3; medians, and the median of
the rounds' ratios). N = KISEKI_BENCH_SINK_ROWS (default 500,000) a round. The server is
kiseki.local's ClickHouse 26.9 on this machine. Prints one JSON object with the load average:
rows/s, the sink/raw ratio per store, the sink against the target (>= 200k rows/s to the
server), and the bytes on disk a sample row takes as the sink wrote them, its share of the
prompts table included (the parts unmerged; tools/bench/store.py measures realistic prompts
at 10M rows).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services")]

from aiokafka import ConsumerRecord  # noqa: E402

from kiseki.core.ids import prompt_hash  # noqa: E402
from kiseki.core.kafka import TYPE_HEADER, decode  # noqa: E402
from kiseki.core.store import Store, apply_schema, open_store  # noqa: E402
from kiseki.local.clickhouse import start_clickhouse  # noqa: E402
from kiseki.sink.config import SinkConfig  # noqa: E402
from kiseki.sink.writer import RESULTS_VIEW, StoreWriter  # noqa: E402
from kiseki.v1 import events_pb2 as ev  # noqa: E402

TYPE = ev.JobResults.DESCRIPTOR.full_name.encode()
ROWS = int(os.environ.get("KISEKI_BENCH_SINK_ROWS", "500000"))
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


def messages(run: str) -> list[bytes]:
    """The results topic's records of a run: one job's samples each, serialized."""
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
        records.append(results.SerializeToString())
    return records


def _record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        "results", 0, offset, 0, 0, b"ck", value, None, 2, len(value), ((TYPE_HEADER, TYPE),)
    )


async def sink_path(store: Store, records: list[bytes]) -> float:
    config = SinkConfig()
    writer = StoreWriter(store, config.max_insert_rows, config.known_prompts)
    fetched = config.max_batch_records
    started = time.perf_counter()
    for first in range(0, len(records), fetched):
        fetch = [
            decode(_record(first + offset, data), RESULTS_VIEW)
            for offset, data in enumerate(records[first : first + fetched])
        ]
        await writer.write_results(fetch)
    return time.perf_counter() - started


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


def measure(stores: dict[str, Store]) -> dict[str, dict[str, list[float]]]:
    """ROUNDS paired rounds: each round's records (a run of their own) written by the sink,
    then as many rows by the raw INSERT ... SELECT, into each store in turn."""
    rates: dict[str, dict[str, list[float]]] = {
        name: {"sink": [], "raw": [], "ratio": []} for name in stores
    }
    for round_ in range(ROUNDS):
        run = f"sink-{round_}"
        records = messages(run)
        for name, store in stores.items():
            sink = ROWS / asyncio.run(sink_path(store, records))
            if not round_:
                rates[name]["bytes_per_row"] = [bytes_on_disk(store) / ROWS]
            raw = ROWS / raw_insert(store)
            [landed] = store.query(
                "SELECT count() AS n FROM sample_results WHERE run_id = {run:String}", {"run": run}
            )
            assert landed["n"] == ROWS, landed
            for key, value in (("sink", sink), ("raw", raw), ("ratio", sink / raw)):
                rates[name][key].append(value)
    return rates


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("KISEKI_BENCH_DIR")) as tmp:
        server = start_clickhouse(Path(tmp) / "server")
        stores = {
            "chdb": open_store(f"chdb:{Path(tmp) / 'chdb'}"),
            "server": open_store(server.url("bench")),
        }
        try:
            for store in stores.values():
                apply_schema(store)
            rates = measure(stores)
        finally:
            for store in stores.values():
                store.close()
            server.stop()
    report: dict[str, object] = {
        "benchmark": "sink_insert",
        "rows": ROWS,
        "rounds": ROUNDS,
        "prompt_chars": len(PROMPT),
        "load_average_1min": round(os.getloadavg()[0], 1),
    }
    for name, rate in rates.items():
        report[f"{name}_sink_rows_per_s"] = round(median(rate["sink"]))
        report[f"{name}_raw_insert_select_rows_per_s"] = round(median(rate["raw"]))
        report[f"{name}_ratio_sink_vs_raw"] = round(median(rate["ratio"]), 3)
        report[f"{name}_bytes_on_disk_per_sample_row"] = round(rate["bytes_per_row"][0], 1)
    server_sink = median(rates["server"]["sink"])
    report["target_server_sink_rows_per_s"] = TARGET_ROWS_PER_S
    report["ratio_server_sink_vs_target"] = round(server_sink / TARGET_ROWS_PER_S, 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
