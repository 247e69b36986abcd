"""Store benchmark: insert N generated sample rows into chDB, then time the trajectory query.

N = KISEKI_BENCH_STORE_ROWS (default 100,000,000; set it lower on a small machine). Rows are
10 v1.4.1 datasets x 1,000 samples per checkpoint, checkpoints at log-spaced-like steps,
1,000 checkpoints a run (N / 10M runs). Two insert paths are timed:
- engine: INSERT ... SELECT generating the rows inside chDB, all N of them;
- sink: Store.insert_rows (dict rows as column-oriented Native batches of 10,000) for
  min(N, KISEKI_BENCH_SINK_ROWS = 1,000,000) rows.
Then the trajectory query one `kiseki trajectory RUN --category NLI` runs (median of 3), and
`kiseki shapes`' query (every category), and on its rows, in paired rounds, the shape rule
alone against the rule with its confidence (50 noisy redraws a curve). Prints one JSON object
with ratios against the targets (insert >= 200k rows/s, trajectory <= 1 s).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services")]

from kiseki.core.store import Store, apply_schema, open_store  # noqa: E402
from kiseki.evaluation.registry import V141_CATEGORIES  # noqa: E402
from kiseki.evaluation.trajectory import classify  # noqa: E402
from kiseki.report import queries  # noqa: E402

ROWS = int(os.environ.get("KISEKI_BENCH_STORE_ROWS", "100000000"))
SINK_ROWS = min(ROWS, int(os.environ.get("KISEKI_BENCH_SINK_ROWS", "1000000")))
SAMPLES, CHECKPOINTS_PER_RUN, CHUNK_ROWS = 1000, 1000, 10_000_000
DATASETS = [(d, m) for members in V141_CATEGORIES.values() for d, m in members.items()][:10]
TARGET_ROWS_PER_S, TARGET_QUERY_S = 200_000, 1.0

# Row r: sample r % SAMPLES, dataset (r / SAMPLES) % D, checkpoint r / (SAMPLES * D).
GENERATE = """
INSERT INTO sample_results (run_id, checkpoint_id, step, dataset, sample_index, scoring_mode,
    job_id, prompt, raw_output, prediction, gold, metrics, format_followed, latency_ms,
    choice_logprobs)
SELECT concat('run-', toString(ck DIV {per_run:UInt64})) AS run_id,
       concat(run_id, '-s', toString(ck % {per_run:UInt64})) AS checkpoint_id,
       toInt64(ck % {per_run:UInt64}) AS step,
       {names:Array(String)}[ds + 1] AS dataset, toInt64(number % {samples:UInt64}),
       'generate', concat(checkpoint_id, '-', dataset), '', 'answer', 'answer', 'gold',
       map({metrics:Array(String)}[ds + 1], toFloat64(rand(number) % 1000 < step)),
       toUInt8(rand(number + 1) % 2), 1.0, []
FROM (SELECT number, number DIV ({samples:UInt64} * {datasets:UInt64}) AS ck,
             (number DIV {samples:UInt64}) % {datasets:UInt64} AS ds
      FROM numbers({first:UInt64}, {count:UInt64}))
"""

CHECKPOINTS = """
INSERT INTO checkpoints (run_id, checkpoint_id, step, tokens_seen, uri, format, size_bytes,
    model_size, metadata, discovered_at)
SELECT concat('run-', toString(n DIV {per_run:UInt64})),
    concat('run-', toString(n DIV {per_run:UInt64}), '-s', toString(n % {per_run:UInt64})),
    n % {per_run:UInt64}, (n % {per_run:UInt64}) * 4194304, '', 'HF', 0, '', map(), now64(3)
FROM (SELECT number AS n FROM numbers({count:UInt64}))
"""


# The runner's summary of each (checkpoint, dataset) job, as the sink stores it with the samples.
SUMMARIES = """
INSERT INTO job_summaries (job_id, run_id, checkpoint_id, step, dataset, scoring_mode,
    shard_index, shard_count, num_samples, scores, failed, error, duration_s)
SELECT concat(checkpoint_id, '-', dataset), run_id, checkpoint_id, step, dataset, 'generate',
       0, 1, {samples:UInt64}, map({metrics:Array(String)}[ds + 1], step / {per_run:UInt64},
       'format_followed', 0.5), 0, '', 1.0
FROM (SELECT n DIV {datasets:UInt64} AS ck, n % {datasets:UInt64} AS ds,
             concat('run-', toString(ck DIV {per_run:UInt64})) AS run_id,
             concat(run_id, '-s', toString(ck % {per_run:UInt64})) AS checkpoint_id,
             toInt64(ck % {per_run:UInt64}) AS step, {names:Array(String)}[ds + 1] AS dataset
      FROM (SELECT number AS n FROM numbers({count:UInt64})))
"""


def engine_insert(store: Store, checkpoints: int) -> float:
    params: dict[str, object] = {
        "per_run": CHECKPOINTS_PER_RUN,
        "samples": SAMPLES,
        "datasets": len(DATASETS),
        "names": [d for d, _ in DATASETS],
        "metrics": [m for _, m in DATASETS],
    }
    started = time.perf_counter()
    for first in range(0, ROWS, CHUNK_ROWS):
        store.command(GENERATE, {**params, "first": first, "count": min(CHUNK_ROWS, ROWS - first)})
    elapsed = time.perf_counter() - started
    store.command(CHECKPOINTS, {"per_run": CHECKPOINTS_PER_RUN, "count": checkpoints})
    store.command(SUMMARIES, {**params, "count": checkpoints * len(DATASETS)})
    return elapsed


def sink_insert(store: Store) -> float:
    batch = 10_000
    started = time.perf_counter()
    for first in range(0, SINK_ROWS, batch):
        rows = [
            {
                "run_id": "sink-run",
                "checkpoint_id": f"sink-s{r // SAMPLES}",
                "step": r // SAMPLES,
                "dataset": "jnli",
                "sample_index": r % SAMPLES,
                "scoring_mode": "generate",
                "job_id": f"job-{r // SAMPLES}",
                "prompt": "以下は、タスクを説明する指示です。",
                "raw_output": "entailment\n\n",
                "prediction": "entailment",
                "gold": "entailment",
                "metrics": {"exact_match": 1.0},
                "format_followed": 1,
                "latency_ms": 2.5,
                "choice_logprobs": [],
            }
            for r in range(first, min(first + batch, SINK_ROWS))
        ]
        store.insert_rows("sample_results", rows, dedup_token=f"bench-{first}")
    return time.perf_counter() - started


def timed(call: object, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def shape_rounds(rows: queries.Rows, rounds: int = 3) -> tuple[float, float]:
    """Median seconds of the rule alone and of the rule with its confidence, in paired rounds
    on the same trajectory rows."""
    alone, judged = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for curve in queries.curves(rows):
            classify(curve.points, curve.baseline)
        alone.append(time.perf_counter() - started)
        started = time.perf_counter()
        queries.shapes_of(rows)
        judged.append(time.perf_counter() - started)
    return statistics.median(alone), statistics.median(judged)


def main() -> None:
    checkpoints = -(-ROWS // (SAMPLES * len(DATASETS)))
    with tempfile.TemporaryDirectory(dir=os.environ.get("KISEKI_BENCH_DIR")) as tmp:
        store = open_store(f"chdb:{Path(tmp) / 'store'}")
        try:
            apply_schema(store)
            engine_s = engine_insert(store, checkpoints)
            sink_s = sink_insert(store)
            [count] = store.query("SELECT count() AS n FROM sample_results")
            run = "run-0"
            trajectory_s = timed(lambda: queries.trajectory(store, [run], "NLI", window=20))
            shapes_s = timed(lambda: queries.shapes(store, [run]), repeats=1)
            points = len(queries.trajectory(store, [run], "NLI", window=20))
            rule_s, confidence_s = shape_rounds(queries.trajectory(store, [run], window=1))
        finally:
            store.close()
    engine_rate, sink_rate = ROWS / engine_s, SINK_ROWS / sink_s
    print(
        json.dumps(
            {
                "benchmark": "store_trajectory",
                "rows": count["n"],
                "runs": -(-checkpoints // CHECKPOINTS_PER_RUN),
                "checkpoints": checkpoints,
                "engine_insert_rows_per_s": round(engine_rate),
                "sink_path_rows": SINK_ROWS,
                "sink_path_insert_rows_per_s": round(sink_rate),
                "target_insert_rows_per_s": TARGET_ROWS_PER_S,
                "ratio_engine_insert_vs_target": round(engine_rate / TARGET_ROWS_PER_S, 2),
                "ratio_sink_insert_vs_target": round(sink_rate / TARGET_ROWS_PER_S, 2),
                "trajectory_query_s": round(trajectory_s, 3),
                "trajectory_points": points,
                "shapes_query_s": round(shapes_s, 3),
                "shapes_rule_alone_s": round(rule_s, 3),
                "shapes_with_confidence_s": round(confidence_s, 3),
                "ratio_confidence_vs_rule_alone": round(confidence_s / rule_s, 2),
                "target_query_s": TARGET_QUERY_S,
                "ratio_target_vs_trajectory_query": round(TARGET_QUERY_S / trajectory_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
