"""Schema versions: the version a store is at, recorded in the store itself, and the in-place
steps from each version to the next.

A store made before versions were recorded is version 1 (the tables of kiseki at 13231ca); a
new store is created at SCHEMA_VERSION directly. Every step is idempotent (a step that ran but
was not recorded runs again harmlessly), and a store newer than this code is refused rather
than written in a shape the code does not know.
"""

from __future__ import annotations

from collections.abc import Callable

from kiseki.core.store.base import Store, StoreError
from kiseki.core.store.prompts import move_prompts_out

SCHEMA_VERSION = 4

VERSIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_versions (
    version UInt32, applied_at DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"""

# The free-text columns of a sample, compressed with ZSTD(1) instead of LZ4. On the sink
# bench's rows (200k, repetitive prompts) bytes on disk a row: LZ4 7.7, ZSTD(1) 3.05,
# ZSTD(3) 2.23; sink rows/s to the server (median of 4, load 3 on 2 cores) 90k, 89k, 81k:
# level 1 keeps LZ4's insert speed within the noise, and merges recompress at that level too.
TEXT_CODEC = "CODEC(ZSTD(1))"
TEXT_COLUMNS = ("prompt", "raw_output", "prediction", "gold")

# What produced a job's scores (JobSummary): the settings' and prompt's digests, kiseki's
# version, the serving backend and dtype.
PROVENANCE_COLUMNS = (
    "settings_digest String",
    "prompt_digest String",
    "kiseki_version LowCardinality(String)",
    "serving_backend LowCardinality(String)",
    "dtype LowCardinality(String)",
)

# version -> what brings a store at version - 1 to it: statements, or a step that looks first.
MIGRATIONS: dict[int, tuple[str, ...] | Callable[[Store], None]] = {
    2: tuple(
        f"ALTER TABLE sample_results MODIFY COLUMN {column} String {TEXT_CODEC}"
        for column in TEXT_COLUMNS
    ),
    3: tuple(
        f"ALTER TABLE job_summaries ADD COLUMN IF NOT EXISTS {column}"
        for column in PROVENANCE_COLUMNS
    ),
    4: move_prompts_out,
}


class SchemaTooNew(StoreError):
    """The store was written by a newer kiseki: this one would not know its tables."""


def store_version(store: Store) -> int:
    """The store's recorded version; 1 for a store older than the record, 0 for an empty one."""
    store.command(VERSIONS_TABLE)
    [row] = store.query("SELECT count() AS n, max(version) AS version FROM schema_versions")
    if row["n"]:
        return int(row["version"])
    [exists] = store.query("EXISTS TABLE sample_results")
    return 1 if exists["result"] else 0


def check_not_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the store's schema is version {version}, newer than the {SCHEMA_VERSION} this"
            " kiseki knows: use a kiseki at least as new as the one that last wrote it"
        )


def upgrade(store: Store, version: int) -> None:
    """Run the steps after `version` (0: a store just created at SCHEMA_VERSION) and record
    the version reached."""
    if version == SCHEMA_VERSION:
        return
    for step in range(version + 1 if version else SCHEMA_VERSION + 1, SCHEMA_VERSION + 1):
        migration = MIGRATIONS[step]
        if callable(migration):
            migration(store)
            continue
        for statement in migration:
            store.command(statement)
    record = "INSERT INTO schema_versions (version) VALUES ({version:UInt32})"
    store.command(record, {"version": SCHEMA_VERSION})
