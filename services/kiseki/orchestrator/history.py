"""The finished (DONE or FAILED) checkpoints of every run, kept out of the orchestrator's
memory: it grows with what is in flight, not with a study's thousand checkpoints per run.

Each finished checkpoint is one row of a private SQLite database: its run, its step (the
anchors coarse-to-fine bisects between, indexed) and one record, its CheckpointDiscovered with
its final state, reason and time, which the control API lists and a requested re-evaluation
starts again from. The database is SQLite's private temporary one: on disk (the temp
directory; the chart's orchestrator has an emptyDir there) beyond a page cache of fixed size,
and gone when the orchestrator stops, since every start rebuilds it from the log. Held as
objects a finished checkpoint cost 922 bytes of Python heap; as a record in memory 343;
here nothing that grows with the history (tools/bench/scheduling.py, "memory").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, NamedTuple

from kiseki.v1 import control_pb2 as ctl
from kiseki.v1 import events_pb2 as ev

# KiB of page cache the database may hold in memory (SQLite's default size); beyond it pages
# live in the temporary file.
CACHE_KIB = 2048
_SCHEMA = """
CREATE TABLE finished (
    checkpoint_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step INTEGER NOT NULL,
    record BLOB NOT NULL
);
CREATE INDEX finished_by_run ON finished (run_id, step);
"""


class Finished(NamedTuple):
    checkpoint: ev.CheckpointDiscovered
    state: int
    reason: str
    changed_at_ns: int


def _record(finished: Finished) -> bytes:
    status = ev.CheckpointStatus(state=finished.state, reason=finished.reason)  # type: ignore[arg-type]
    status.changed_at.FromNanoseconds(finished.changed_at_ns)
    return ctl.CheckpointSummary(checkpoint=finished.checkpoint, status=status).SerializeToString()


def _finished(record: bytes) -> Finished:
    summary = ctl.CheckpointSummary.FromString(record)
    status = summary.status
    return Finished(
        summary.checkpoint, status.state, status.reason, status.changed_at.ToNanoseconds()
    )


class History:
    """Every run's finished checkpoints. Used from the orchestrator's event loop only."""

    def __init__(self) -> None:
        # "": a private temporary database on disk, deleted when the connection closes.
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript(f"PRAGMA cache_size = -{CACHE_KIB}; PRAGMA journal_mode = OFF;")
        self._db.executescript(_SCHEMA)

    def _rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, args).fetchall()

    def add(self, finished: Finished) -> None:
        checkpoint = finished.checkpoint
        self._db.execute(
            "INSERT OR REPLACE INTO finished VALUES (?, ?, ?, ?)",
            (checkpoint.checkpoint_id, checkpoint.run_id, checkpoint.step, _record(finished)),
        )

    def get(self, checkpoint_id: str) -> Finished | None:
        rows = self._rows("SELECT record FROM finished WHERE checkpoint_id = ?", checkpoint_id)
        return _finished(rows[0][0]) if rows else None

    def pop(self, checkpoint_id: str) -> Finished | None:
        """Out of the history: its checkpoint is evaluated again."""
        finished = self.get(checkpoint_id)
        if finished is not None:
            self._db.execute("DELETE FROM finished WHERE checkpoint_id = ?", (checkpoint_id,))
        return finished

    def steps(self, run_id: str) -> list[int]:
        """The run's finished steps, in order."""
        rows = self._rows("SELECT step FROM finished WHERE run_id = ? ORDER BY step", run_id)
        return [int(step) for (step,) in rows]

    def newest_step(self, run_id: str) -> int | None:
        rows = self._rows("SELECT max(step) FROM finished WHERE run_id = ?", run_id)
        return None if rows[0][0] is None else int(rows[0][0])

    def counts(self) -> dict[str, int]:
        """Finished checkpoints per run."""
        rows = self._rows("SELECT run_id, count(*) FROM finished GROUP BY run_id")
        return {str(run): int(count) for run, count in rows}

    def __len__(self) -> int:
        return int(self._rows("SELECT count(*) FROM finished")[0][0])

    def runs(self) -> list[str]:
        return [str(run) for (run,) in self._rows("SELECT DISTINCT run_id FROM finished")]

    def ids(self) -> Iterator[str]:
        for (checkpoint_id,) in self._rows("SELECT checkpoint_id FROM finished"):
            yield str(checkpoint_id)

    def each(self, run_id: str) -> Iterator[Finished]:
        rows = self._rows("SELECT record FROM finished WHERE run_id = ? ORDER BY step", run_id)
        return (_finished(record) for (record,) in rows)
