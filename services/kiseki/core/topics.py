"""Kafka topic names: one place decides them, with a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = "kiseki"

    def _name(self, suffix: str) -> str:
        return f"{self.prefix}.{suffix}" if self.prefix else suffix

    @property
    def checkpoints(self) -> str:
        return self._name("checkpoints")

    @property
    def jobs(self) -> str:
        return self._name("jobs")

    @property
    def results(self) -> str:
        return self._name("results")

    @property
    def prompts(self) -> str:
        return self._name("prompts")

    @property
    def status(self) -> str:
        return self._name("status")

    @property
    def dlq(self) -> str:
        return self._name("dlq")

    def all(self) -> tuple[str, ...]:
        return (self.checkpoints, self.jobs, self.results, self.prompts, self.status, self.dlq)

    def compacted(self) -> frozenset[str]:
        """The topics that keep the latest record of each key forever (log compaction): a
        prompt's text is read again by whoever replays the results, however old."""
        return frozenset({self.prompts})

    def partitions(self, job_partitions: int | None = None) -> dict[str, int]:
        """Each topic's partition count, so whichever service starts first creates them alike
        (results and status are keyed by checkpoint); jobs only when its count is given."""
        counts = {
            self.checkpoints: 3,
            self.results: 6,
            self.prompts: 3,
            self.status: 3,
            self.dlq: 1,
        }
        if job_partitions is not None:
            counts[self.jobs] = job_partitions
        return counts
