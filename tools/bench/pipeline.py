"""The whole pipeline on one checkpoint against direct evaluation of the same items.

Measures, in one run: pipeline samples/s (watcher → orchestrator → Triton → runners → sink)
against direct in-process batched evaluation (target ≥ 0.9×) and against one-sample-at-a-time
generation as llm-jp-eval does it (target ≥ 3×), and the latency from the checkpoint
appearing to its first score in the store, less the model load (target ≤ 5 s). Prints one
JSON object.

The pipeline's rate is taken from the store's own clocks: from the checkpoint's READY status
(its model loaded) to the last sample row inserted, so it counts job fan-out, scoring, Kafka
and the sink, and not the model load (which the direct rate does not count either).
`KISEKI_BENCH_PIPELINE_SAMPLES` sets the test samples per suite (six suites; default 200, so
that a run measures throughput rather than the fixed cost of a single small job).

The model is the project's tiny GPT at 4 layers × 256 wide (`KISEKI_BENCH_PIPELINE_LAYERS`,
`_WIDTH`; the demo's is 2 × 64). At the demo's size a forward costs about a millisecond per
sample, the same order as the pipeline's own per-sample work (prompts, metrics, Kafka, the
sink), and on a small machine both share the same cores; any real model's compute dwarfs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

from kiseki.core.store import open_store  # noqa: E402
from kiseki.core.store.embedded import open_embedded  # noqa: E402
from kiseki.evaluation.datasets import few_shot_examples, load_dataset  # noqa: E402
from kiseki.evaluation.prompts import build_prompt  # noqa: E402
from kiseki.evaluation.synthetic import write_all  # noqa: E402
from kiseki.serving.hf_scoring import HFScorer  # noqa: E402
from kiseki.stack.progress import checkpoint_states  # noqa: E402
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir  # noqa: E402
from tinygpt.corpus import demo_corpus  # noqa: E402
from tinygpt.train import TrainConfig, train  # noqa: E402

SUITES = ["synth_arith", "synth_nli", "synth_mc", "synth_qa", "synth_ner", "synth_mt"]
SHOTS = 2
SAMPLES_PER_SUITE = int(os.environ.get("KISEKI_BENCH_PIPELINE_SAMPLES", "200"))
BATCH = 64  # the runner's default items per request
LAYERS = int(os.environ.get("KISEKI_BENCH_PIPELINE_LAYERS", "4"))
WIDTH = int(os.environ.get("KISEKI_BENCH_PIPELINE_WIDTH", "256"))


def _items(datasets: Path) -> list[tuple[str, int]]:
    items = []
    for name in SUITES:
        dataset = load_dataset(datasets, name)
        shots = few_shot_examples(datasets, name, SHOTS)
        items += [(build_prompt(dataset, s, shots), dataset.output_length) for s in dataset.samples]
    return items


def direct_rates(checkpoint: Path, items: list[tuple[str, int]]) -> tuple[float, float]:
    """Batched (prompts of one budget, BATCH at a time) and one-at-a-time samples/s."""
    scorer = HFScorer(checkpoint, device="cpu")
    started = time.perf_counter()
    for budget in sorted({b for _, b in items}):
        prompts = [p for p, b in items if b == budget]
        for start in range(0, len(prompts), BATCH):
            scorer.generate(prompts[start : start + BATCH], budget)
    batched = len(items) / (time.perf_counter() - started)
    sample = items[:: max(1, len(items) // 120)]  # sequential is slow: time a spread subset
    started = time.perf_counter()
    for prompt, budget in sample:
        scorer.generate([prompt], budget)
    return batched, len(sample) / (time.perf_counter() - started)


async def _wait_for(stack: LocalStack, state: str) -> None:
    while (await checkpoint_states(stack.control_address, "bench")).get(state, 0) < 1:
        stack.check()
        # The figures come from the store's clocks; polling more often only takes CPU from
        # the pipeline being measured.
        await asyncio.sleep(0.5)


def _wait_for_store(stack: LocalStack, rows: int) -> None:
    """DONE is the orchestrator's word; the sink may still be writing: ask it (Query service)."""
    store = open_store("grpc://" + stack.query_address)
    try:
        while int(store.query("SELECT count() AS n FROM sample_results FINAL")[0]["n"]) < rows:
            stack.check()
            time.sleep(0.5)
    finally:
        store.close()


def _store_clock(store_dir: Path) -> dict[str, float]:
    """Wall-clock seconds of the checkpoint's states and of its first and last sample rows."""
    store = open_embedded(str(store_dir))
    try:
        [rows] = store.query(
            "SELECT count() AS n, toUnixTimestamp64Milli(min(inserted_at)) AS first_ms,"
            " toUnixTimestamp64Milli(max(inserted_at)) AS last_ms FROM sample_results FINAL"
        )
        states = store.query(
            "SELECT state, toUnixTimestamp64Milli(min(changed_at)) AS ms"
            " FROM checkpoint_status FINAL GROUP BY state"
        )
    finally:
        store.close()
    clock = {str(s["state"]).lower(): int(s["ms"]) / 1000 for s in states}
    clock.update(
        rows=int(rows["n"]), first_row=rows["first_ms"] / 1000, last_row=rows["last_ms"] / 1000
    )
    return clock


def pipeline(checkpoint: Path, workdir: Path, datasets: Path, rows: int) -> dict[str, float]:
    watched = workdir / "run"
    watched.mkdir()
    policy = {
        "budget": {"max_endpoints": 1},
        "runs": {"*": {"suites": SUITES, "num_few_shots": SHOTS}},
    }
    settings = StackSettings(
        workdir / "stack", [WatchedDir("bench", watched)], policy, datasets, runners=2
    )
    stack = LocalStack(settings)
    stack.start()
    try:
        stack.wait_ready()  # the clock starts at the rename, with every service ready
        staging = workdir / "staging"
        shutil.copytree(checkpoint, staging)
        appeared = time.time()
        staging.rename(watched / checkpoint.name)  # the checkpoint appears whole, at once
        asyncio.run(_wait_for(stack, "done"))
        _wait_for_store(stack, rows)
    finally:
        stack.stop()
    return {"appeared": appeared, **_store_clock(settings.workdir / "store")}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        datasets = Path(tmp) / "datasets"
        write_all(datasets, {"test": SAMPLES_PER_SUITE})
        items = _items(datasets)
        [checkpoint] = train(
            demo_corpus(100),
            TrainConfig(
                out_dir=Path(tmp) / "train", checkpoint_steps=(200,), layers=LAYERS, width=WIDTH
            ),
        )
        # Direct evaluation before and after the pipeline: the mean of the two faces the
        # same machine load the pipeline saw, on a shared machine too.
        batched_before, sequential_before = direct_rates(checkpoint, items)
        clock = pipeline(checkpoint, Path(tmp), datasets, len(items))
        batched_after, sequential_after = direct_rates(checkpoint, items)
    batched = (batched_before + batched_after) / 2
    sequential = (sequential_before + sequential_after) / 2
    ready = clock["ready"]
    model_load = ready - clock["deploying"]
    pipeline_rate = clock["rows"] / (clock["last_row"] - ready)
    latency = clock["first_row"] - clock["appeared"] - model_load
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "samples": len(items),
                "model_layers_width": [LAYERS, WIDTH],
                "rows_in_store": clock["rows"],
                "pipeline_samples_per_s": round(pipeline_rate, 1),
                "direct_batched_samples_per_s": round(batched, 1),
                "direct_batched_before_after": [round(batched_before, 1), round(batched_after, 1)],
                "ratio_vs_direct": round(pipeline_rate / batched, 3),
                "target_ratio_vs_direct": 0.9,
                "sequential_samples_per_s": round(sequential, 1),
                "ratio_vs_sequential": round(pipeline_rate / sequential, 2),
                "target_ratio_vs_sequential": 3,
                "model_load_s": round(model_load, 2),
                "appeared_to_first_score_less_load_s": round(latency, 2),
                "target_first_score_less_load_s": 5,
                "appeared_to_done_s": round(clock["done"] - clock["appeared"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
