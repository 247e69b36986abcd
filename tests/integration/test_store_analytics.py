"""The analytics views and report queries on a store (chDB and a server) filled with known
values."""

from __future__ import annotations

import itertools

import pytest

from kiseki.core.store import Store, apply_schema
from kiseki.evaluation.registry import aggregate
from kiseki.evaluation.trajectory import onset
from kiseki.report import queries
from support.analytics import RUN, SCORES, STEPS, TOKENS_PER_STEP, fill


@pytest.fixture
def filled(store: Store) -> Store:
    fill(store)
    return store


def test_scores_carry_tokens_as_the_x_axis(filled: Store) -> None:
    rows = queries.dataset_scores(filled, RUN, dataset="jsquad", mode="generate")
    char_f1 = [
        (r["step"], r["tokens_seen"], r["score"], r["samples"])
        for r in rows
        if r["metric"] == "char_f1"
    ]
    assert char_f1 == [
        (s, s * TOKENS_PER_STEP, SCORES["jsquad"]["generate"]["char_f1"][i], 2)
        for i, s in enumerate(STEPS)
    ]


def test_category_scores_and_avg_match_the_evaluation_core(filled: Store) -> None:
    rows = queries.category_scores(filled, RUN, mode="generate")
    for position, step in enumerate(STEPS):
        expected = aggregate(
            {
                d: {m: v[position] for m, v in modes["generate"].items()}
                for d, modes in SCORES.items()
            }
        )
        got = {r["category"]: r["score"] for r in rows if r["step"] == step}
        assert got == pytest.approx(expected)
    # Log-likelihood categories use acc: only jnli has it.
    ll = queries.category_scores(filled, RUN, category="NLI", mode="loglikelihood")
    assert [r["score"] for r in ll] == SCORES["jnli"]["loglikelihood"]["acc"]


def test_trajectory_moving_average_and_baselines(filled: Store) -> None:
    rows = queries.trajectory(filled, [RUN], category="NLI", window=2)
    nli = [(0.0 + 0.0) / 2, 0.25, 0.5, 0.5, 0.75, 1.0]
    assert [r["score"] for r in rows] == pytest.approx(nli)
    assert [r["score_ma"] for r in rows] == pytest.approx(
        [nli[0]] + [(a + b) / 2 for a, b in itertools.pairwise(nli)]
    )
    assert [r["baseline"] for r in rows] == pytest.approx([0.375] * len(STEPS))
    rc = queries.trajectory(filled, [RUN], category="RC", window=1)
    assert {r["baseline"] for r in rc} == {None}
    [avg_baseline] = filled.query(
        "SELECT baseline FROM category_baselines WHERE category = 'AVG'"
        " AND scoring_mode = 'generate'"
    )
    assert avg_baseline["baseline"] == pytest.approx(0.375)


def test_format_following_rate(filled: Store) -> None:
    rows = filled.query(
        "SELECT step, rate FROM format_following WHERE dataset = 'jnli' ORDER BY step"
    )
    assert [r["rate"] for r in rows] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(("window", "margin"), [(1, 0.05), (2, 0.05), (3, 0.2)])
def test_onset_view_agrees_with_the_evaluation_core(
    filled: Store, window: int, margin: float
) -> None:
    view = {
        r["category"]: r["onset_tokens"]
        for r in filled.query(
            "SELECT category, onset_tokens FROM onsets(window={w:UInt64}, margin={m:Float64})"
            " WHERE scoring_mode = 'generate'",
            {"w": window, "m": margin},
        )
    }
    for curve in queries.curves(queries.trajectory(filled, [RUN], window=1)):
        expected = onset(curve.points, curve.baseline or 0.0, margin, window)
        assert view[curve.category] == expected, curve.category


def test_shapes_per_run_and_category(filled: Store) -> None:
    shapes = {r["category"]: r for r in queries.shapes(filled, [RUN])}
    assert set(shapes) == {"NLI", "RC", "AVG"}
    assert all(
        r["shape"] in {"gradual", "two-stage", "late-emerging", "flat"} for r in shapes.values()
    )
    assert shapes["RC"]["baseline"] is None


def test_several_runs_and_unknown_runs(filled: Store) -> None:
    fill(filled, "r2")
    rows = queries.trajectory(filled, [RUN, "r2"], category="AVG")
    assert {r["run_id"] for r in rows} == {RUN, "r2"}
    assert [r["run_id"] for r in queries.runs(filled)] == [RUN, "r2"]
    with pytest.raises(queries.NotFound, match="unknown run nope"):
        queries.trajectory(filled, [RUN, "nope"])
    with pytest.raises(queries.NotFound, match="nope"):
        queries.checkpoints(filled, "nope")


def test_shards_are_weighted_and_failed_jobs_left_out(filled: Store) -> None:
    def summary(
        job: str, shard: int, samples: int, score: float, failed: int = 0
    ) -> dict[str, object]:
        return {
            "job_id": job,
            "run_id": RUN,
            "checkpoint_id": f"{RUN}-s5",
            "step": 5,
            "dataset": "jcommonsenseqa",
            "scoring_mode": "generate",
            "shard_index": shard,
            "shard_count": 2,
            "num_samples": samples,
            "scores": {"exact_match": score},
            "failed": failed,
            "error": "",
            "duration_s": 1.0,
        }

    filled.insert_rows(
        "job_summaries",
        [summary("a", 0, 30, 1.0), summary("b", 1, 10, 0.0), summary("c", 1, 10, 0.9, failed=1)],
    )
    [row] = queries.dataset_scores(filled, RUN, dataset="jcommonsenseqa")
    assert (row["score"], row["samples"]) == (0.75, 40)


def test_wide_table_has_one_column_per_category_avg_last(filled: Store) -> None:
    rows = queries.wide(queries.trajectory(filled, [RUN], window=1))
    assert list(rows[0]) == ["run_id", "step", "tokens_seen", "NLI", "RC", "AVG"]
    assert [r["step"] for r in rows] == STEPS
    assert rows[-1]["NLI"] == 1.0


def test_a_users_category_row_overrides_the_default_and_survives_restarts(filled: Store) -> None:
    filled.insert_rows(
        "categories", [{"category": "RC", "dataset": "jamp", "metric": "exact_match"}]
    )
    apply_schema(filled)  # a service restart writes the defaults again
    rows = queries.category_scores(filled, RUN, category="RC", mode="generate")
    assert [r["parts"] for r in rows] == [2] * len(STEPS)  # jsquad and jamp
