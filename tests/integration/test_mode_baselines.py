"""A scoring mode's AVG is compared with the baselines of the categories that mode scores."""

from __future__ import annotations

import pytest

from kiseki.core.store import Store
from kiseki.report import queries
from support.analytics import RUN, fill


def test_the_avg_baseline_of_a_mode_averages_the_categories_it_scores(chdb_store: Store) -> None:
    fill(chdb_store)  # NLI (jnli, jamp: 0.375) in both modes; RC (jsquad) generated only
    chdb_store.insert_rows(
        "baselines",
        [
            {
                "run_id": RUN,
                "dataset": "jsquad",
                "metric": "char_f1",
                "num_few_shots": 4,
                "majority_label": "x",
                "score": 0.125,
            }
        ],
    )
    avg = {
        mode: [r["baseline"] for r in queries.trajectory(chdb_store, [RUN], "AVG", mode)]
        for mode in ("generate", "loglikelihood")
    }
    assert avg["generate"] == pytest.approx([(0.375 + 0.125) / 2] * 6)
    assert avg["loglikelihood"] == pytest.approx([0.375] * 6)  # was the mean over NLI and RC


def test_the_gold_mode_reads_the_likelihood_per_byte_without_a_baseline(
    chdb_store: Store,
) -> None:
    fill(chdb_store)
    summary = {
        "job_id": "g",
        "run_id": RUN,
        "checkpoint_id": f"{RUN}-s1",
        "step": 1,
        "dataset": "jnli",
        "scoring_mode": "gold",
        "shard_index": 0,
        "shard_count": 1,
        "num_samples": 2,
        "scores": {"gold_logprob": -3.0, "bits_per_byte": 1.5, "byte_likelihood": 0.35},
        "failed": 0,
        "error": "",
        "duration_s": 1.0,
    }
    chdb_store.insert_rows("job_summaries", [summary])
    rows = queries.trajectory(chdb_store, [RUN], "NLI", "gold", 1)
    assert [(r["step"], r["score"], r["baseline"]) for r in rows] == [(1, 0.35, None)]
