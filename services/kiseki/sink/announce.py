"""Announcing a significant drop while the run trains.

The sink knows when a (checkpoint, dataset, mode) is whole in the store: every shard of its
jobs has a successful summary. Then it runs `kiseki regressions`' paired test for that
checkpoint (kiseki.report.regressions.drops_at) and announces each drop once per
(checkpoint, dataset, mode, reference): a status event on the status topic, a count in
`kiseki_regressions_total`, a log line, and a row in `regression_alerts`, which is what it
asks before announcing again (a redelivered job makes its triple whole again). The event is
sent before the row is written: after a crash between the two a drop is announced twice,
never lost.

The checks run in a task of their own, after the inserts: a slow or failing check never
holds the sink's inserts, and an error is logged and passed over, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from kiseki.core.kafka import ProtoProducer
from kiseki.core.scoring_modes import SCORING_MODES, scoring_mode_name
from kiseki.core.status import regression_status
from kiseki.core.store import Store
from kiseki.report.regressions import StepMeans, drops_at
from kiseki.sink.writer import dedup_token
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)

REGRESSIONS = Counter(
    "kiseki_regressions_total",
    "Significant drops announced against the previous or best checkpoint",
    ["run", "dataset", "mode"],
)

WHOLE_SQL = """
SELECT checkpoint_id, any(run_id) AS run_id, any(step) AS step, dataset, scoring_mode
FROM job_summaries FINAL
WHERE checkpoint_id IN {ids:Array(String)} AND failed = 0
GROUP BY checkpoint_id, dataset, scoring_mode
HAVING uniqExact(shard_index) >= greatest(max(shard_count), 1)
"""
ANNOUNCED_SQL = """
SELECT against, against_step FROM regression_alerts FINAL
WHERE checkpoint_id = {checkpoint:String} AND dataset = {dataset:String}
  AND scoring_mode = {mode:String}
"""
# Batches of summaries waiting for their check; beyond this the oldest checks are passed
# over (logged) rather than let the sink's memory grow while the store is slow.
QUEUED_BATCHES = 1000


@dataclass(frozen=True)
class Scored:
    """A (checkpoint, dataset, mode) whose jobs all succeeded."""

    checkpoint_id: str
    run_id: str
    step: int
    dataset: str
    mode: str


class RegressionWatch:
    def __init__(
        self, store: Store, producer: ProtoProducer, status_topic: str, alpha: float
    ) -> None:
        self.store, self.producer, self.topic, self.alpha = store, producer, status_topic, alpha
        self._queue: asyncio.Queue[list[ev.JobSummary]] = asyncio.Queue(QUEUED_BATCHES)
        self._means = StepMeans()

    def offer(self, summaries: list[ev.JobSummary]) -> None:
        """The summaries of a batch just written; returns at once."""
        if self._queue.full():
            dropped = self._queue.get_nowait()
            log.warning("regression checks passed over", extra={"jobs": len(dropped)})
        self._queue.put_nowait(summaries)

    async def run(self) -> None:
        while True:
            summaries = await self._queue.get()
            try:
                for scored in await asyncio.to_thread(self._whole, summaries):
                    await self._check(scored)
            except Exception as error:  # a check must never stop the sink
                log.warning("regression check failed", extra={"error": repr(error)})

    def _whole(self, summaries: list[ev.JobSummary]) -> list[Scored]:
        keys = {
            (s.checkpoint_id, s.dataset, scoring_mode_name(s.scoring_mode))
            for s in summaries
            if s.job_id and not s.failed
        }
        if not keys:
            return []
        rows = self.store.query(WHOLE_SQL, {"ids": sorted({k[0] for k in keys})})
        return [
            Scored(r["checkpoint_id"], r["run_id"], int(r["step"]), r["dataset"], r["scoring_mode"])
            for r in rows
            if (r["checkpoint_id"], r["dataset"], r["scoring_mode"]) in keys
        ]

    def _new_drops(self, scored: Scored) -> list[dict[str, Any]]:
        params = {"checkpoint": scored.checkpoint_id, "dataset": scored.dataset}
        done = self.store.query(ANNOUNCED_SQL, params | {"mode": scored.mode})
        announced = {(r["against"], int(r["against_step"])) for r in done}
        rows = drops_at(
            self.store,
            scored.run_id,
            scored.step,
            scored.dataset,
            scored.mode,
            self.alpha,
            known=self._means,
            checkpoint=scored.checkpoint_id,
        )
        return [r for r in rows if (r["against"], r["against_step"]) not in announced]

    async def _check(self, scored: Scored) -> None:
        try:
            drops = await asyncio.to_thread(self._new_drops, scored)
            for row in drops:
                await self._announce(scored, row)
        except Exception as error:  # one bad triple must not hide the others
            log.warning(
                "regression check failed",
                extra={
                    "checkpoint_id": scored.checkpoint_id,
                    "dataset": scored.dataset,
                    "mode": scored.mode,
                    "error": repr(error),
                },
            )

    async def _announce(self, scored: Scored, row: dict[str, Any]) -> None:
        regression = ev.Regression(
            dataset=scored.dataset,
            scoring_mode=SCORING_MODES[scored.mode],  # type: ignore[arg-type]
            against=row["against"],
            against_step=row["against_step"],
            score=row["score"],
            against_score=row["against_score"],
            delta=row["delta"],
            p_value=row["p_value"],
            fell=row["fell"],
            fell_samples=row["fell_samples"],
        )
        status = regression_status(scored.checkpoint_id, scored.run_id, scored.step, regression)
        await self.producer.send(self.topic, status, key=scored.checkpoint_id)
        REGRESSIONS.labels(run=scored.run_id, dataset=scored.dataset, mode=scored.mode).inc()
        log.warning(
            "significant drop",
            extra={
                "run": scored.run_id,
                "step": scored.step,
                "dataset": scored.dataset,
                "mode": scored.mode,
                "against": row["against"],
                "against_step": row["against_step"],
                "delta": row["delta"],
                "p_value": row["p_value"],
            },
        )
        alert = {"run_id": scored.run_id, "checkpoint_id": scored.checkpoint_id} | row
        alert["scoring_mode"] = alert.pop("mode")
        key = f"{scored.checkpoint_id}|{scored.dataset}|{scored.mode}|{row['against']}"
        token = dedup_token("alert", [key, str(row["against_step"])])
        await asyncio.to_thread(self.store.insert_rows, "regression_alerts", [alert], token)
