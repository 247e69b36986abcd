"""The store's schema: tables keyed so that a replayed row replaces itself, and read views.

Tables are ReplacingMergeTree on the identity of what they hold, so at-least-once delivery
has an exactly-once effect: every read view uses FINAL (or argMax), never raw row counts.
Each statement is idempotent (IF NOT EXISTS / OR REPLACE) and runs unchanged on chDB and
on a ClickHouse server; the tables here are the current version's (see migrations.py).
"""

from __future__ import annotations

import re

from kiseki.core.store.base import Store
from kiseki.core.store.migrations import (
    PROVENANCE_COLUMNS,
    TEXT_CODEC,
    check_not_newer,
    store_version,
    upgrade,
)
from kiseki.core.store.prompts import PROMPTS_TABLE, SAMPLES_VIEW
from kiseki.evaluation.category_maps import category_rows

# Lets the table drop a retried insert block carrying the same insert_deduplication_token.
_DEDUP = "SETTINGS non_replicated_deduplication_window = 10000"

_PROVENANCE = ", ".join(PROVENANCE_COLUMNS)

TABLES = (
    f"""CREATE TABLE IF NOT EXISTS runs (
        run_id String, model_size String, tags Map(String, String),
        updated_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY run_id {_DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS checkpoints (
        checkpoint_id String, run_id String, step Int64, tokens_seen Int64, uri String,
        format LowCardinality(String), size_bytes Int64, model_size String,
        metadata Map(String, String), discovered_at DateTime64(3)
    ) ENGINE = ReplacingMergeTree ORDER BY (run_id, step, checkpoint_id) {_DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS checkpoint_status (
        checkpoint_id String, run_id String, step Int64, state LowCardinality(String),
        reason String, source LowCardinality(String), changed_at DateTime64(3)
    ) ENGINE = ReplacingMergeTree ORDER BY (checkpoint_id, changed_at, state) {_DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS deployments (
        deployment_id String, checkpoint_id String, run_id String, endpoint String,
        model_name String, backend LowCardinality(String), state LowCardinality(String),
        updated_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY deployment_id {_DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS sample_results (
        run_id String, checkpoint_id String, step Int64, dataset LowCardinality(String),
        sample_index Int64, scoring_mode LowCardinality(String), job_id String,
        prompt_hash UInt128, raw_output String {TEXT_CODEC},
        prediction String {TEXT_CODEC}, gold String {TEXT_CODEC},
        metrics Map(String, Float64), format_followed UInt8, latency_ms Float64,
        choice_logprobs Array(Float64), inserted_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(inserted_at)
    ORDER BY (run_id, checkpoint_id, dataset, scoring_mode, sample_index) {_DEDUP}""",
    PROMPTS_TABLE,
    f"""CREATE TABLE IF NOT EXISTS job_summaries (
        job_id String, run_id String, checkpoint_id String, step Int64,
        dataset LowCardinality(String), scoring_mode LowCardinality(String),
        shard_index Int32, shard_count Int32, num_samples Int64, scores Map(String, Float64),
        failed UInt8, error String, duration_s Float64,
        inserted_at DateTime64(3) DEFAULT now64(3),
        {_PROVENANCE}
    ) ENGINE = ReplacingMergeTree(inserted_at) ORDER BY (run_id, checkpoint_id, job_id) {_DEDUP}""",
    # Which category each dataset feeds, and under which metric (its generation metric; in
    # log-likelihood mode a category uses `acc`). The defaults are written at 1970-01-01 so
    # that a row a user inserts for the same dataset wins.
    f"""CREATE TABLE IF NOT EXISTS categories (
        category String, dataset String, metric String, updated_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY dataset {_DEDUP}""",
    # The majority-class baseline of a run's dataset (the score of always answering the most
    # frequent few-shot output, under the dataset's first metric): the same for every
    # checkpoint of the run, written by `kiseki up` at start or `kiseki baselines`.
    # The significant drops the sink announced while the run trained, one row per
    # (checkpoint, dataset, mode, reference): what it asks before announcing one again.
    f"""CREATE TABLE IF NOT EXISTS regression_alerts (
        run_id String, checkpoint_id String, step Int64, dataset LowCardinality(String),
        scoring_mode LowCardinality(String), against LowCardinality(String),
        against_step Int64, score Float64, against_score Float64, delta Float64,
        p_value Float64, fell Int64, fell_samples String,
        announced_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(announced_at)
    ORDER BY (run_id, checkpoint_id, dataset, scoring_mode, against, against_step) {_DEDUP}""",
    f"""CREATE TABLE IF NOT EXISTS baselines (
        run_id String, dataset String, metric String, num_few_shots Int32,
        majority_label String, score Float64, updated_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(updated_at) ORDER BY (run_id, dataset) {_DEDUP}""",
)

VIEWS = (
    # One row per checkpoint × dataset × mode × metric: the mean of the per-sample values.
    """CREATE OR REPLACE VIEW dataset_scores AS
    SELECT run_id, checkpoint_id, step, dataset, scoring_mode, metric,
           avg(value) AS score, count() AS samples
    FROM sample_results FINAL
    ARRAY JOIN mapKeys(metrics) AS metric, mapValues(metrics) AS value
    GROUP BY run_id, checkpoint_id, step, dataset, scoring_mode, metric""",
    # The latest lifecycle state of every checkpoint.
    """CREATE OR REPLACE VIEW checkpoint_latest_status AS
    SELECT checkpoint_id, any(run_id) AS run_id, any(step) AS step,
           argMax(state, changed_at) AS state, argMax(reason, changed_at) AS reason,
           max(changed_at) AS last_changed_at
    FROM checkpoint_status FINAL GROUP BY checkpoint_id""",
    # The seed study's smoothing: a moving average over the last 20 checkpoints by step.
    """CREATE OR REPLACE VIEW dataset_scores_moving_avg AS
    SELECT run_id, step, dataset, scoring_mode, metric, score,
           avg(score) OVER (PARTITION BY run_id, dataset, scoring_mode, metric
                            ORDER BY step ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) AS score_ma20
    FROM dataset_scores""",
)


# Analytics: every view reads through a FINAL scan, so duplicates are gone before any average
# or window. Views with {name:Type} are parameterized:
# SELECT * FROM category_trajectory(window=20).
ANALYTICS_VIEWS = (
    """CREATE OR REPLACE VIEW checkpoint_tokens AS
    SELECT checkpoint_id, any(run_id) AS run_id, any(step) AS step, max(tokens_seen) AS tokens_seen
    FROM checkpoints FINAL GROUP BY checkpoint_id""",
    # Dataset scores from the job summaries (one row per job, not per sample: the trajectory
    # of a 100M-sample store reads ~100k rows). The runner's summary holds each metric as
    # llm-jp-eval computes it (corpus metrics over the job's samples) and format_following;
    # shards are weighted by their samples. dataset_scores (per-sample means) is the drill-down.
    """CREATE OR REPLACE VIEW job_scores AS
    SELECT run_id, checkpoint_id, step, dataset, scoring_mode, metric,
           sum(value * num_samples) / sum(num_samples) AS score, sum(num_samples) AS samples
    FROM job_summaries FINAL
    ARRAY JOIN mapKeys(scores) AS metric, mapValues(scores) AS value
    WHERE failed = 0 AND num_samples > 0
    GROUP BY run_id, checkpoint_id, step, dataset, scoring_mode, metric""",
    # Score per (run, checkpoint, dataset, mode, metric) with training tokens as the x axis.
    """CREATE OR REPLACE VIEW scores AS
    SELECT _s.run_id AS run_id, _s.checkpoint_id AS checkpoint_id, _s.step AS step,
           _t.tokens_seen AS tokens_seen, _s.dataset AS dataset, _s.scoring_mode AS scoring_mode,
           _s.metric AS metric, _s.score AS score, _s.samples AS samples
    FROM job_scores AS _s
    LEFT JOIN checkpoint_tokens AS _t ON _t.checkpoint_id = _s.checkpoint_id""",
    """CREATE OR REPLACE VIEW category_members AS
    SELECT dataset, argMax(category, updated_at) AS category, argMax(metric, updated_at) AS metric
    FROM categories GROUP BY dataset""",
    # A category is the mean of its datasets present at a checkpoint; AVG the mean of those.
    """CREATE OR REPLACE VIEW category_scores AS
    WITH per_category AS (
        SELECT _s.run_id AS run_id, _s.checkpoint_id AS checkpoint_id, _s.step AS step,
               any(_s.tokens_seen) AS tokens_seen, _s.scoring_mode AS scoring_mode,
               _m.category AS category, avg(_s.score) AS score, count() AS parts
        FROM scores AS _s INNER JOIN category_members AS _m ON _m.dataset = _s.dataset
        WHERE _s.metric = multiIf(_s.scoring_mode = 'loglikelihood', 'acc',
                                 _s.scoring_mode = 'gold', 'byte_likelihood', _m.metric)
        GROUP BY run_id, checkpoint_id, step, scoring_mode, category
    )
    SELECT * FROM per_category
    UNION ALL
    SELECT run_id, checkpoint_id, step, any(tokens_seen), scoring_mode, 'AVG', avg(score), count()
    FROM per_category GROUP BY run_id, checkpoint_id, step, scoring_mode""",
    # The study's smoothing: the mean of the last `window` checkpoints by step.
    """CREATE OR REPLACE VIEW category_trajectory AS
    SELECT run_id, checkpoint_id, step, tokens_seen, scoring_mode, category, score,
           avg(score) OVER (PARTITION BY run_id, scoring_mode, category ORDER BY step
                            ROWS BETWEEN {window:UInt64} - 1 PRECEDING AND CURRENT ROW) AS score_ma
    FROM category_scores""",
    # Per scoring mode (not the gold mode: a majority label is no baseline for a likelihood):
    # a mode's AVG averages the categories scored in that mode, so its
    # baseline averages the same ones (log-likelihood often scores only the labelled ones).
    """CREATE OR REPLACE VIEW category_baselines AS
    WITH per_category AS (
        SELECT _b.run_id AS run_id, _m.category AS category, avg(_b.score) AS baseline,
               count() AS parts
        FROM baselines AS _b FINAL INNER JOIN category_members AS _m ON _m.dataset = _b.dataset
        GROUP BY run_id, category
    ),
    scored AS (
        SELECT _p.run_id AS run_id, _s.scoring_mode AS scoring_mode, _p.category AS category,
               _p.baseline AS baseline, _p.parts AS parts
        FROM per_category AS _p
        INNER JOIN (SELECT DISTINCT run_id, scoring_mode, category FROM category_scores
                    WHERE scoring_mode != 'gold') AS _s
            ON _s.run_id = _p.run_id AND _s.category = _p.category
    )
    SELECT * FROM scored
    UNION ALL
    SELECT run_id, scoring_mode, 'AVG', avg(baseline), count() FROM scored
    GROUP BY run_id, scoring_mode""",
    # Share of generated answers in the expected form (label, number, non-empty).
    """CREATE OR REPLACE VIEW format_following AS
    SELECT _f.run_id AS run_id, _f.checkpoint_id AS checkpoint_id, _f.step AS step,
           _t.tokens_seen AS tokens_seen, _f.dataset AS dataset, _f.rate AS rate,
           _f.samples AS samples
    FROM (SELECT run_id, checkpoint_id, step, dataset, avg(format_followed) AS rate,
                 count() AS samples
          FROM sample_results FINAL WHERE scoring_mode = 'generate'
          GROUP BY run_id, checkpoint_id, step, dataset) AS _f
    LEFT JOIN checkpoint_tokens AS _t ON _t.checkpoint_id = _f.checkpoint_id""",
    """CREATE OR REPLACE VIEW category_format_following AS
    SELECT _f.run_id AS run_id, _f.checkpoint_id AS checkpoint_id, _f.step AS step,
           any(_f.tokens_seen) AS tokens_seen, _m.category AS category, avg(_f.rate) AS rate
    FROM format_following AS _f INNER JOIN category_members AS _m ON _m.dataset = _f.dataset
    GROUP BY run_id, checkpoint_id, step, category""",
    # The first checkpoint after which the moving average stays above baseline + margin
    # (kiseki.evaluation.trajectory.onset is the same rule); NULL when it never does.
    """CREATE OR REPLACE VIEW onsets AS
    SELECT run_id, scoring_mode, category, any(baseline) AS baseline,
           if(countIf(stays_above) > 0, minIf(step, stays_above), NULL) AS onset_step,
           if(countIf(stays_above) > 0, argMinIf(tokens_seen, step, stays_above), NULL)
               AS onset_tokens
    FROM (
        SELECT _t.run_id AS run_id, _t.scoring_mode AS scoring_mode, _t.category AS category,
               _t.step AS step, _t.tokens_seen AS tokens_seen, _b.baseline AS baseline,
               min(_t.score_ma) OVER (PARTITION BY _t.run_id, _t.scoring_mode, _t.category
                                     ORDER BY _t.step DESC
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                   > _b.baseline + {margin:Float64} AS stays_above
        FROM category_trajectory(window = {window:UInt64}) AS _t
        LEFT JOIN category_baselines AS _b
            ON _b.run_id = _t.run_id AND _b.scoring_mode = _t.scoring_mode
           AND _b.category = _t.category
    )
    GROUP BY run_id, scoring_mode, category""",
)


# A server stores a view with each table qualified by the database (`db.scores`), and a
# database named like a table alias would be read as that alias (`b.category_members`). So the
# views' aliases start with an underscore, and open_server refuses a database named like one.
_ALL_VIEWS = (*VIEWS, *ANALYTICS_VIEWS, SAMPLES_VIEW)
VIEW_ALIASES = frozenset(re.findall(r"\bAS (_[a-z]+)\b", "\n".join(_ALL_VIEWS)))


def apply_schema(store: Store) -> None:
    """Bring the store to this code's schema version (refusing a newer one), create every
    table and view and write the default category map; safe to run at every service start."""
    version = store_version(store)
    check_not_newer(version)
    for statement in TABLES:  # tables a store lacks are created at the current version
        store.command(statement)
    upgrade(store, version)
    for statement in _ALL_VIEWS:
        store.command(statement)
    store.command(default_categories())


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def default_categories() -> str:
    """An INSERT of the evaluation core's map, dated 1970 so a user's own rows win. A
    statement, not an insert of rows, so the schema is DDL-like (`command`) from end to end."""
    values = ", ".join(
        f"({_literal(r['category'])}, {_literal(r['dataset'])}, {_literal(r['metric'])}, 0)"
        for r in category_rows()
    )
    return f"INSERT INTO categories (category, dataset, metric, updated_at) VALUES {values}"
