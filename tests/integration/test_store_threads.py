"""The embedded store's threads stay bounded: removing many parts at once (what follows a
merge, or a DROP) must not leave chDB holding an idle thread, and its /proc files, for each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.core.store import Store, open_store

PARTS = 150  # beyond ClickHouse's concurrent_part_removal_threshold (100)
SLACK = 10  # what the engine's own pools may start meanwhile


@pytest.fixture
def bare_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    try:
        yield store
    finally:
        store.close()


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_removing_many_parts_leaves_no_idle_threads(bare_store: Store) -> None:
    bare_store.command("CREATE TABLE removals (k UInt64) ENGINE = MergeTree ORDER BY k")
    bare_store.command("SYSTEM STOP MERGES removals")
    for part in range(PARTS):
        bare_store.command(f"INSERT INTO removals SELECT number + {part * 10} FROM numbers(10)")
    before = _threads()
    # The same removal as the background cleanup's after a merge, but synchronous.
    bare_store.command("DROP TABLE removals SYNC")
    assert _threads() <= before + SLACK, (before, _threads())
