"""Store benchmark: insert N generated sample rows into chDB, then time the trajectory query.

N = KISEKI_BENCH_STORE_ROWS (default 100,000,000; set it lower on a small machine). Rows are
10 v1.4.1 datasets x 1,000 samples per checkpoint, checkpoints at log-spaced-like steps,
1,000 checkpoints a run (N / 10M runs). Two insert paths are timed:
- engine: INSERT ... SELECT generating the rows inside chDB, all N of them;
- sink: Store.insert_rows (dict rows as column-oriented Native batches of 10,000) for
  min(N, KISEKI_BENCH_SINK_ROWS = 1,000,000) rows.
Then bytes on disk per sample row, before and after prompts were stored once: DISK_ROWS
(KISEKI_BENCH_DISK_ROWS, default 10,000,000) rows with llm-jp-eval v1 4-shot prompts
(~1,000 characters: instruction, four examples and the sample's input, of random characters
from a 157-character Japanese alphabet; one prompt per dataset x sample,
the same at every checkpoint) go into a table of version 3's layout (the text in each row)
and into version 4's (the hash in each row, the text once in a prompts table).
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
from random import Random

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services")]

from kiseki.core.store import Store, apply_schema, open_store  # noqa: E402
from kiseki.core.store.prompts import PROMPT_HASH_SQL, insert_sample_rows  # noqa: E402
from kiseki.evaluation.prompts import V1_EXAMPLE, V1_HEADER  # noqa: E402
from kiseki.evaluation.registry import V141_CATEGORIES  # noqa: E402
from kiseki.evaluation.trajectory import classify  # noqa: E402
from kiseki.report import queries  # noqa: E402

ROWS = int(os.environ.get("KISEKI_BENCH_STORE_ROWS", "100000000"))
SINK_ROWS = min(ROWS, int(os.environ.get("KISEKI_BENCH_SINK_ROWS", "1000000")))
DISK_ROWS = int(os.environ.get("KISEKI_BENCH_DISK_ROWS", "10000000"))
SAMPLES, CHECKPOINTS_PER_RUN, CHUNK_ROWS = 1000, 1000, 10_000_000
DATASETS = [(d, m) for members in V141_CATEGORIES.values() for d, m in members.items()][:10]
TARGET_ROWS_PER_S, TARGET_QUERY_S = 200_000, 1.0
# Hiragana, katakana and common kanji: random text of Japanese characters for the inputs.
ALPHABET = (
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
    "日本語文章問題答前提仮説関係人時間年月今大小中上下手出入言見行来生学校会社国家自分者事物場所"
    "長短高低新古多少明暗右左東西南北春夏秋冬"
)

# Row r: sample r % SAMPLES, dataset (r / SAMPLES) % D, checkpoint r / (SAMPLES * D).
GENERATE = """
INSERT INTO sample_results (run_id, checkpoint_id, step, dataset, sample_index, scoring_mode,
    job_id, raw_output, prediction, gold, metrics, format_followed, latency_ms,
    choice_logprobs)
SELECT concat('run-', toString(ck DIV {per_run:UInt64})) AS run_id,
       concat(run_id, '-s', toString(ck % {per_run:UInt64})) AS checkpoint_id,
       toInt64(ck % {per_run:UInt64}) AS step,
       {names:Array(String)}[ds + 1] AS dataset, toInt64(number % {samples:UInt64}),
       'generate', concat(checkpoint_id, '-', dataset), 'answer', 'answer', 'gold',
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


# One prompt per dataset x sample: the dataset's 4-shot block, then the sample's input.
DISK_PROMPTS = f"""
CREATE TABLE disk_prompts ENGINE = Memory AS
SELECT ds, smp, prompt, {PROMPT_HASH_SQL} AS prompt_hash
FROM (SELECT number DIV {{samples:UInt64}} AS ds, number % {{samples:UInt64}} AS smp,
             concat({{blocks:Array(String)}}[ds + 1], '\n\n### 入力:\n',
                    arrayStringConcat(arrayMap(k -> {{alphabet:Array(String)}}[
                        1 + cityHash64(ds, smp, k) % length({{alphabet:Array(String)}})],
                        range({{input_chars:UInt64}}))),
                    '\n\n### 応答:\n') AS prompt
      FROM numbers({{prompts:UInt64}}))
"""
# Rows of the two layouts, in sample_results' order: checkpoint by checkpoint, each asking
# every prompt; @COLUMN@ is `prompt` (version 3: the text) or `prompt_hash` (version 4).
DISK_ROWS_SQL = """
INSERT INTO @TABLE@ (run_id, checkpoint_id, step, dataset, sample_index,
    scoring_mode, job_id, @COLUMN@, raw_output, prediction, gold, metrics,
    format_followed, latency_ms, choice_logprobs)
SELECT 'disk', concat('disk-s', toString(ck)), toInt64(ck), toString(_r.ds),
       toInt64(_r.smp), 'generate', concat('disk-s', toString(ck), '-', toString(_r.ds)),
       _p.@COLUMN@, 'entailment\n\n', 'entailment',
       'neutral', map('exact_match', toFloat64(rand() % 2)), 1, 12.5, []
FROM (SELECT number DIV {prompts:UInt64} AS ck,
             (number DIV {samples:UInt64}) % {datasets:UInt64} AS ds,
             number % {samples:UInt64} AS smp FROM numbers({rows:UInt64})) AS _r
INNER JOIN disk_prompts AS _p ON _p.ds = _r.ds AND _p.smp = _r.smp
"""
INPUT_CHARS = 160


def _few_shot_blocks() -> list[str]:
    """Each dataset's instruction and four examples (inputs of ~180 characters)."""
    random = Random(0)
    blocks = []
    for name, _ in DATASETS:
        examples = "".join(
            V1_EXAMPLE.format(input="".join(random.choices(ALPHABET, k=180)), output="正解")
            for _ in range(4)
        )
        blocks.append(V1_HEADER.format(instruction=f"{name}の問題に答えてください。") + examples)
    return blocks


def bytes_per_row(store: Store) -> dict[str, float]:
    """Bytes on disk per sample row of DISK_ROWS rows in version 3's layout (the prompt's
    text in each row) and version 4's (its hash in each row, the text once in prompts)."""
    params: dict[str, object] = {
        "samples": SAMPLES, "datasets": len(DATASETS), "prompts": SAMPLES * len(DATASETS),
        "blocks": _few_shot_blocks(), "alphabet": list(ALPHABET), "input_chars": INPUT_CHARS,
        "rows": DISK_ROWS,
    }  # fmt: skip
    store.command(DISK_PROMPTS, params)
    store.command("CREATE TABLE disk_v3 AS sample_results")
    store.command(
        "ALTER TABLE disk_v3 DROP COLUMN prompt_hash,"
        " ADD COLUMN prompt String CODEC(ZSTD(1)) AFTER job_id"
    )
    store.command("CREATE TABLE disk_v4 AS sample_results")
    store.command("CREATE TABLE disk_v4_prompts AS prompts")
    for table, column in (("disk_v3", "prompt"), ("disk_v4", "prompt_hash")):
        store.command(DISK_ROWS_SQL.replace("@TABLE@", table).replace("@COLUMN@", column), params)
    store.command("INSERT INTO disk_v4_prompts (prompt_hash, prompt)"
                  " SELECT prompt_hash, prompt FROM disk_prompts")  # fmt: skip
    [row] = store.query(
        "SELECT sumIf(bytes_on_disk, table = 'disk_v3') AS v3,"
        " sumIf(bytes_on_disk, table IN ('disk_v4', 'disk_v4_prompts')) AS v4,"
        " (SELECT avg(lengthUTF8(prompt)) FROM disk_prompts) AS chars"
        " FROM system.parts WHERE active AND database = currentDatabase()"
    )
    for table in ("disk_prompts", "disk_v3", "disk_v4", "disk_v4_prompts"):
        store.command(f"DROP TABLE {table}")
    return {"v3": row["v3"] / DISK_ROWS, "v4": row["v4"] / DISK_ROWS, "chars": row["chars"]}


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
        insert_sample_rows(store, rows, dedup_token=f"bench-{first}")
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
            disk = bytes_per_row(store)
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
                "disk_rows": DISK_ROWS,
                "disk_prompt_chars": round(disk["chars"]),
                "bytes_per_sample_row_prompt_in_row_v3": round(disk["v3"], 1),
                "bytes_per_sample_row_prompts_once_v4": round(disk["v4"], 1),
                "ratio_bytes_v3_vs_v4": round(disk["v3"] / disk["v4"], 2),
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
