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
