"""The watcher's settings, from environment variables (the runs themselves are in runs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiseki.core.config import setting


@dataclass(frozen=True)
class WatcherConfig:
    runs_file: Path = setting(
        "KISEKI_WATCH_RUNS_FILE", doc="JSON list of the runs to watch (see kiseki.watcher.runs)"
    )
    poll_interval_s: float = setting(
        "KISEKI_WATCH_POLL_INTERVAL_S",
        1.0,
        unit="seconds",
        doc="time between scans of a run; a steady-state scan of 10,000 checkpoints costs a few"
        " ms, so a second keeps discovery prompt at no real cost",
    )
    quiet_period_s: float = setting(
        "KISEKI_WATCH_QUIET_PERIOD_S",
        2.0,
        unit="seconds",
        doc="no file size or mtime change for this long before a complete-looking checkpoint"
        " is trusted; covers shared filesystems that show files before their data",
    )
    incomplete_timeout_s: float = setting(
        "KISEKI_WATCH_INCOMPLETE_TIMEOUT_S",
        3600.0,
        unit="seconds",
        doc="a checkpoint directory not complete this long after it was first seen is reported"
        " FAILED with the reason; an hour outlasts saving a large sharded checkpoint to a"
        " shared filesystem",
    )
