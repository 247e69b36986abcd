"""A store filled with known scores for the analytics, CLI and Query-service tests."""

from __future__ import annotations

from kiseki.core.store import Store
from kiseki.core.store.prompts import insert_sample_rows

RUN = "r1"
STEPS = [0, 1, 2, 3, 4, 5]
TOKENS_PER_STEP = 1000
# dataset -> mode -> metric -> score per step
SCORES = {
    "jnli": {
        "generate": {"exact_match": [0.0, 0.5, 0.5, 0.5, 1.0, 1.0]},
        "loglikelihood": {"acc": [0.5, 0.5, 0.5, 0.5, 1.0, 1.0], "acc_norm": [0.0] * 6},
    },
    "jamp": {"generate": {"exact_match": [0.0, 0.0, 0.5, 0.5, 0.5, 1.0]}},
    "jsquad": {
        "generate": {"char_f1": [0.0, 0.25, 0.25, 0.5, 0.75, 1.0], "exact_match": [0.0] * 6}
    },
}
BASELINES = {"jnli": 0.5, "jamp": 0.25}


def _checkpoint(run: str, step: int) -> dict[str, object]:
    return {
        "checkpoint_id": f"{run}-s{step}",
        "run_id": run,
        "step": step,
        "tokens_seen": step * TOKENS_PER_STEP,
        "uri": f"/ck/{step}",
        "format": "HF",
        "size_bytes": 1,
        "model_size": "tiny",
        "metadata": {},
        "discovered_at": "2026-11-24 10:00:00",
    }


def _samples(run: str) -> list[dict[str, object]]:
    """Two samples per (checkpoint, dataset, mode), both carrying the score as their value;
    the first follows the format always, the second from step 3 on."""
    samples: list[dict[str, object]] = []
    for dataset, modes in SCORES.items():
        for mode, metrics in modes.items():
            for position, step in enumerate(STEPS):
                for index in range(2):
                    samples.append(
                        {
                            "run_id": run,
                            "checkpoint_id": f"{run}-s{step}",
                            "step": step,
                            "dataset": dataset,
                            "sample_index": index,
                            "scoring_mode": mode,
                            "job_id": f"{run}-{step}-{dataset}-{mode}",
                            "prompt": f"### 指示:\n{dataset}\n\n### 入力:\n{index}\n\n### 応答:\n",
                            "raw_output": "",
                            "prediction": "",
                            "gold": "",
                            "metrics": {m: v[position] for m, v in metrics.items()},
                            "format_followed": int(index == 0 or step >= 3),
                            "latency_ms": 1.0,
                            "choice_logprobs": [],
                        }
                    )
    return samples


def _summaries(run: str) -> list[dict[str, object]]:
    """The runner's summary of each job: its scores, and format_following when generated."""
    rows: list[dict[str, object]] = []
    for dataset, modes in SCORES.items():
        for mode, metrics in modes.items():
            for position, step in enumerate(STEPS):
                scores = {m: v[position] for m, v in metrics.items()}
                if mode == "generate":
                    scores["format_following"] = 1.0 if step >= 3 else 0.5
                rows.append(
                    {
                        "job_id": f"{run}-{step}-{dataset}-{mode}",
                        "run_id": run,
                        "checkpoint_id": f"{run}-s{step}",
                        "step": step,
                        "dataset": dataset,
                        "scoring_mode": mode,
                        "shard_index": 0,
                        "shard_count": 1,
                        "num_samples": 2,
                        "scores": scores,
                        "failed": 0,
                        "error": "",
                        "duration_s": 1.0,
                    }
                )
    return rows


def fill(store: Store, run: str = RUN, rows_hold_prompts: bool = False) -> None:
    """The run's rows; `rows_hold_prompts`: written as a store before version 4 held them."""
    store.insert_rows("checkpoints", [_checkpoint(run, step) for step in STEPS])
    store.insert_rows("runs", [{"run_id": run, "model_size": "tiny", "tags": {}}])
    samples = _samples(run)
    for rows in (samples, samples[:40]):  # the second, a replay: must not count twice
        if rows_hold_prompts:
            store.insert_rows("sample_results", rows)
        else:
            insert_sample_rows(store, rows)
    summaries = _summaries(run)
    store.insert_rows("job_summaries", summaries)
    store.insert_rows("job_summaries", summaries[:10])  # a replay
    baselines = [
        {
            "run_id": run,
            "dataset": dataset,
            "metric": "exact_match",
            "num_few_shots": 4,
            "majority_label": "x",
            "score": score,
        }
        for dataset, score in BASELINES.items()
    ]
    store.insert_rows("baselines", baselines)
