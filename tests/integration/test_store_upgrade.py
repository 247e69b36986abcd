"""A store made before job summaries recorded their provenance gains the columns in place at
start and keeps every row."""

from __future__ import annotations

from pathlib import Path

from kiseki.core.store import apply_schema, open_store

OLD_JOB_SUMMARIES = """CREATE TABLE job_summaries (
    job_id String, run_id String, checkpoint_id String, step Int64,
    dataset LowCardinality(String), scoring_mode LowCardinality(String),
    shard_index Int32, shard_count Int32, num_samples Int64, scores Map(String, Float64),
    failed UInt8, error String, duration_s Float64,
    inserted_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(inserted_at) ORDER BY (run_id, checkpoint_id, job_id)"""


def test_an_older_store_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    store.command(OLD_JOB_SUMMARIES)
    store.command(
        "INSERT INTO job_summaries (job_id, run_id, checkpoint_id, step, dataset, scoring_mode,"
        " shard_index, shard_count, num_samples, scores, failed, error, duration_s) VALUES"
        " ('j', 'run', 'ck', 10, 'jnli', 'generate', 0, 1, 40, {'exact_match': 0.5}, 0, '', 1.0)"
    )
    apply_schema(store)
    apply_schema(store)  # idempotent
    rows = store.query("SELECT job_id, scores, settings_digest, dtype FROM job_summaries FINAL")
    assert rows == [
        {"job_id": "j", "scores": {"exact_match": 0.5}, "settings_digest": "", "dtype": ""}
    ]
    scores = store.query("SELECT dataset, score FROM job_scores WHERE metric = 'exact_match'")
    assert scores == [{"dataset": "jnli", "score": 0.5}]
    store.close()
