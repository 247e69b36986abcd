"""Prompts stored once: a sample row keeps its prompt's hash, the `prompts` table the text.

A 4-shot prompt is most of a sample row's bytes, and every checkpoint of a run is asked the
same prompts, so the text is written once per distinct prompt (per dataset, sample and prompt
settings) instead of once per checkpoint. The hash is MD5 of the UTF-8 text, the same in
Python and in SQL (`PROMPT_HASH_SQL`), so the migration computes in the store what the runner
and the sink compute in Python. The `samples` view joins the two back into the columns
`sample_results` had before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice

from kiseki.core.ids import prompt_hash
from kiseki.core.store.base import Columns, Row, Store, columns_of

# MD5 as ClickHouse's UInt128 reads its 16 bytes (little-endian), as hash_key does in Python.
PROMPT_HASH_SQL = "reinterpretAsUInt128(MD5(prompt))"

# Written once a prompt, read on a drill-down: ZSTD(3) rather than the sample columns' level 1.
PROMPTS_TABLE = """CREATE TABLE IF NOT EXISTS prompts (
    prompt_hash UInt128, prompt String CODEC(ZSTD(3)),
    inserted_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(inserted_at) ORDER BY prompt_hash
SETTINGS non_replicated_deduplication_window = 10000"""

# One row per sample (FINAL), with its prompt's text: the columns sample_results had.
SAMPLES_VIEW = """CREATE OR REPLACE VIEW samples AS
SELECT _r.run_id AS run_id, _r.checkpoint_id AS checkpoint_id, _r.step AS step,
       _r.dataset AS dataset, _r.sample_index AS sample_index, _r.scoring_mode AS scoring_mode,
       _r.job_id AS job_id, _p.prompt AS prompt, _r.raw_output AS raw_output,
       _r.prediction AS prediction, _r.gold AS gold, _r.metrics AS metrics,
       _r.format_followed AS format_followed, _r.latency_ms AS latency_ms,
       _r.choice_logprobs AS choice_logprobs, _r.inserted_at AS inserted_at,
       _r.prompt_hash AS prompt_hash
FROM sample_results AS _r FINAL
LEFT JOIN prompts AS _p FINAL ON _p.prompt_hash = _r.prompt_hash"""


def hash_key(digest: bytes) -> int:
    """The digest as the store's UInt128 column holds it."""
    return int.from_bytes(digest, "little")


class KnownPrompts:
    """Digests of the prompts already written, the latest `capacity` of them, each with its
    hash key: a prompt seen again is not sent again (forgetting one only costs sending it
    again)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.keys: dict[bytes, int] = {}

    def __contains__(self, digest: bytes) -> bool:
        return digest in self.keys

    def add(self, digests: Iterable[bytes]) -> None:
        self.keys.update((d, hash_key(d)) for d in digests)
        for oldest in list(islice(self.keys, max(len(self.keys) - self.capacity, 0))):
            del self.keys[oldest]

    def forget(self, digests: Iterable[bytes]) -> None:
        for digest in digests:
            self.keys.pop(digest, None)


def stored_digests(store: Store, limit: int) -> list[bytes]:
    """The digests of the latest `limit` prompts stored, oldest first: what a sink that
    restarts knows again (the runner publishes a text once, so after a restart the sink
    would otherwise read every record naming an earlier prompt twice, for a text it lacks)."""
    rows = store.query(
        "SELECT prompt_hash FROM (SELECT prompt_hash, max(inserted_at) AS at FROM prompts"
        " GROUP BY prompt_hash ORDER BY at DESC LIMIT {limit:UInt64}) ORDER BY at",
        {"limit": limit},
    )
    return [int(row["prompt_hash"]).to_bytes(16, "little") for row in rows]


def insert_prompts(store: Store, prompts: Mapping[bytes, str], dedup_token: str = "") -> None:
    if prompts:
        columns: Columns = {
            "prompt_hash": [hash_key(d) for d in prompts],
            "prompt": list(prompts.values()),
        }
        store.insert_columns("prompts", columns, dedup_token)


def insert_sample_rows(store: Store, rows: Sequence[Row], dedup_token: str = "") -> None:
    """Rows shaped like rows.sample_row (the prompt's text in `prompt`): the texts go to
    prompts, the rows to sample_results with the hash."""
    digests = [prompt_hash(str(row["prompt"])) for row in rows]
    insert_prompts(store, {d: str(r["prompt"]) for d, r in zip(digests, rows, strict=True)})
    hashed = [
        {**{k: v for k, v in row.items() if k != "prompt"}, "prompt_hash": hash_key(digest)}
        for row, digest in zip(rows, digests, strict=True)
    ]
    store.insert_columns("sample_results", columns_of(hashed), dedup_token)


def move_prompts_out(store: Store) -> None:
    """Schema version 4, in place: sample rows gain the hash of their prompt, the texts move to
    prompts, then the prompt column goes. Idempotent: a store whose rows no longer hold the
    text has nothing to move; a step that stopped half-way runs again from the start."""
    [held] = store.query(
        "SELECT count() AS n FROM system.columns WHERE database = currentDatabase()"
        " AND table = 'sample_results' AND name = 'prompt'"
    )
    if not held["n"]:
        return
    for statement in (
        "ALTER TABLE sample_results ADD COLUMN IF NOT EXISTS prompt_hash UInt128 AFTER job_id",
        f"ALTER TABLE sample_results UPDATE prompt_hash = {PROMPT_HASH_SQL} WHERE 1"
        " SETTINGS mutations_sync = 2",
        "INSERT INTO prompts (prompt_hash, prompt)"
        " SELECT prompt_hash, any(prompt) FROM sample_results GROUP BY prompt_hash",
        "ALTER TABLE sample_results DROP COLUMN prompt",
    ):
        store.command(statement)
