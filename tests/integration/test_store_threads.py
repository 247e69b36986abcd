"""The embedded store's threads stay bounded: a merge that leaves many outdated parts behind
must not leave chDB holding a thread (and its /proc files) for each one removed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.core.store import Store, open_store
from support.polling import poll_until

PARTS = 150  # beyond ClickHouse's concurrent_part_removal_threshold (100)
SLACK = 20  # what the engine's own pools may start meanwhile (its merges, its scheduler)


@pytest.fixture
def bare_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    try:
        yield store
    finally:
        store.close()


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _parts(store: Store) -> int:
    [row] = store.query("SELECT count() AS n FROM system.parts WHERE table = 'removals'")
    return int(row["n"])


def test_removing_many_outdated_parts_leaves_no_idle_threads(bare_store: Store) -> None:
    bare_store.command(
        "CREATE TABLE removals (k UInt64) ENGINE = MergeTree ORDER BY k"
        " SETTINGS cleanup_delay_period = 1, cleanup_delay_period_random_add = 0"
    )
    bare_store.command("SYSTEM STOP MERGES removals")
    for part in range(PARTS):
        bare_store.command(f"INSERT INTO removals SELECT number + {part * 10} FROM numbers(10)")
    before = _threads()
    bare_store.command("SYSTEM START MERGES removals")
    bare_store.command("OPTIMIZE TABLE removals FINAL")
    poll_until(lambda: _parts(bare_store) == 1, timeout_s=60, interval_s=0.5)
    assert _threads() <= before + SLACK, (before, _threads())
