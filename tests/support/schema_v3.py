"""The tables of schema version 3 (kiseki at e1e67d8, the last version whose sample rows held
their prompt's text), verbatim: the starting point of the prompts-once upgrade test."""

_DEDUP = "SETTINGS non_replicated_deduplication_window = 10000"
TEXT_CODEC = "CODEC(ZSTD(1))"
_PROVENANCE = (
    "settings_digest String, prompt_digest String, kiseki_version LowCardinality(String),"
    " serving_backend LowCardinality(String), dtype LowCardinality(String)"
)
TABLES_V3 = (
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
        prompt String {TEXT_CODEC}, raw_output String {TEXT_CODEC},
        prediction String {TEXT_CODEC}, gold String {TEXT_CODEC},
        metrics Map(String, Float64), format_followed UInt8, latency_ms Float64,
        choice_logprobs Array(Float64), inserted_at DateTime64(3) DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree(inserted_at)
    ORDER BY (run_id, checkpoint_id, dataset, scoring_mode, sample_index) {_DEDUP}""",
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
