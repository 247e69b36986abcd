"""Scanning one run's root: what became complete and quiet since the last scan.

Per-poll cost grows with what changed, not with what is on disk: a scan lists the root once
(one `scandir`, names and entry types only, no stat) and drops every name already published,
so the thousands of published checkpoints cost a set lookup each. Only the directories not
yet published are inspected (format rule, then a fingerprint of their files). A directory is
published after its rule passed on two scans at least the quiet period apart with the same
fingerprint; the period is timed on the watcher's own monotonic clock, so a shared
filesystem's skewed mtimes cannot shorten it.

One identity per checkpoint: symlinked entries of the root are skipped (an alias inside the
root would be a second name for a checkpoint; one leading out of it is not the run's), and a
step already published under another directory name is not published again.

A directory not published `incomplete_timeout_s` after it was first seen is reported once as
stuck, with the reason; it is still published should it complete later.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from kiseki.core.ids import checkpoint_id
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.completeness import Fingerprint, Incomplete, fingerprint
from kiseki.watcher.formats import FORMATS, Format, detect
from kiseki.watcher.runs import WatchedRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stuck:
    directory: str
    checkpoint_id: str
    step: int
    reason: str


@dataclass
class ScanResult:
    complete: list[ev.CheckpointDiscovered] = field(default_factory=list)
    stuck: list[Stuck] = field(default_factory=list)


@dataclass
class _Watching:
    first_seen: float
    fingerprint: Fingerprint | None = None
    stable_since: float = 0.0
    reason: str = ""
    reported_stuck: bool = False


@dataclass(frozen=True)
class _Candidate:
    path: Path
    format: Format
    step: int


class RunScanner:
    def __init__(
        self,
        run: WatchedRun,
        quiet_period_s: float,
        incomplete_timeout_s: float = 3600.0,
        published: dict[str, int] | None = None,
    ) -> None:
        """`published`: directory name → step of what this run has published before."""
        self.run, self.quiet_period_s = run, quiet_period_s
        self.incomplete_timeout_s = incomplete_timeout_s
        self.published_names = set(published or {})
        self.published_steps = set((published or {}).values())
        self._watching: dict[str, _Watching] = {}
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, exc_info: bool = False, **extra: object) -> None:
        """Log a problem once, not every poll; `key` is the entry's name or has a slash."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, exc_info=exc_info, extra={"run_id": self.run.run_id, **extra})

    def _format(self, path: Path) -> Format | None:
        if self.run.format == "auto":
            return detect(path, self.run.root)
        fmt = FORMATS[self.run.format]
        return fmt if fmt.step(path.name) is not None else None

    def _candidate(self, entry: os.DirEntry[str]) -> _Candidate | None:
        path = Path(entry.path)
        if entry.is_symlink():
            if self._format(path) is not None:
                self._warn_once(entry.name, "skipping a symlinked checkpoint", entry=entry.name)
            return None
        if not entry.is_dir(follow_symlinks=False):
            return None
        fmt = self._format(path)
        step = fmt.step(entry.name) if fmt else None
        if fmt is None or step is None:
            return None
        if step in self.published_steps:
            self._warn_once(entry.name, "step already published under another name", step=step)
            return None
        return _Candidate(path, fmt, step)

    def _candidates(self) -> list[_Candidate] | None:
        """The directories to inspect, or None when the root cannot be listed."""
        try:
            with os.scandir(self.run.root) as listing:
                entries = [e for e in listing if e.name not in self.published_names]
        except OSError as error:
            self._warn_once("/", "cannot list the run root", error=str(error))
            return None
        self._warned.discard("/")  # readable again: say so again if it breaks again
        found = []
        for entry in entries:
            try:
                candidate = self._candidate(entry)
            except OSError as error:  # unreadable entry: others go on
                self._warn_once(entry.name, "cannot inspect an entry", error=str(error))
                continue
            if candidate is not None:
                found.append(candidate)
        return found

    def _message(
        self, candidate: _Candidate, tokens: int | None, size: int
    ) -> ev.CheckpointDiscovered:
        uri = str(candidate.path)
        message = ev.CheckpointDiscovered(
            checkpoint_id=checkpoint_id(self.run.run_id, candidate.step, uri),
            run_id=self.run.run_id,
            step=candidate.step,
            tokens_seen=tokens if tokens is not None else candidate.step * self.run.tokens_per_step,
            uri=uri,
            format=candidate.format.proto,  # type: ignore[arg-type]
            size_bytes=size,
            model_size=self.run.model_size,
            metadata=self.run.tags,
            tokenizer_uri=str(self.run.tokenizer or ""),
        )
        message.discovered_at.GetCurrentTime()
        return message

    def _inspect(self, candidate: _Candidate, now: float, result: ScanResult) -> None:
        watching = self._watching.setdefault(candidate.path.name, _Watching(first_seen=now))
        try:
            tokens = candidate.format.check(candidate.path, self.run)
            files, size = fingerprint(candidate.path, self.run.root.resolve())
        except (Incomplete, OSError) as error:
            watching.fingerprint, watching.reason = None, str(error)
        except Exception as error:  # a rule's bug must not stop the run's other checkpoints
            watching.fingerprint, watching.reason = None, f"{type(error).__name__}: {error}"
            key, uri = f"/bug/{candidate.path.name}", str(candidate.path)
            self._warn_once(key, "checking a checkpoint failed", exc_info=True, uri=uri)
        else:
            if files != watching.fingerprint:
                watching.fingerprint, watching.stable_since = files, now
                watching.reason = "files still changing"
            elif now - watching.stable_since >= self.quiet_period_s:
                result.complete.append(self._message(candidate, tokens, size))
                return
        if now - watching.first_seen > self.incomplete_timeout_s and not watching.reported_stuck:
            uri = str(candidate.path)
            result.stuck.append(
                Stuck(
                    candidate.path.name,
                    checkpoint_id(self.run.run_id, candidate.step, uri),
                    candidate.step,
                    f"not complete {self.incomplete_timeout_s:g} s after first seen: "
                    f"{watching.reason}",
                )
            )

    def scan(self, now: float) -> ScanResult:
        """One poll at monotonic time `now`. What it finds is found again at the next poll
        until the caller says it was sent (`mark_published`, `mark_reported`)."""
        result = ScanResult()
        candidates = self._candidates()
        if candidates is None:  # keep what is being watched: the root may come back
            return result
        listed = {c.path.name for c in candidates}
        for gone in set(self._watching) - listed:  # deleted, or published under another name
            del self._watching[gone]
        for candidate in candidates:
            self._inspect(candidate, now, result)
        result.complete = self._one_per_step(result.complete)
        return result

    def _one_per_step(
        self, complete: list[ev.CheckpointDiscovered]
    ) -> list[ev.CheckpointDiscovered]:
        """Two directories of one step completing in the same scan: the first name wins."""
        kept: dict[int, ev.CheckpointDiscovered] = {}
        for message in sorted(complete, key=lambda m: (m.step, m.uri)):
            if message.step in kept:
                self._warn_once(message.uri, "step complete under two names", uri=message.uri)
            else:
                kept[message.step] = message
        return list(kept.values())

    def mark_reported(self, stuck: Stuck) -> None:
        """The FAILED status went out: say it once (until the scanner restarts)."""
        if stuck.directory in self._watching:
            self._watching[stuck.directory].reported_stuck = True

    def mark_published(self, message: ev.CheckpointDiscovered) -> None:
        name = Path(message.uri).name
        self.published_names.add(name)
        self.published_steps.add(message.step)
        self._watching.pop(name, None)
