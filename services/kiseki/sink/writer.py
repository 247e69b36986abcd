"""Batch handlers that turn deliveries into idempotent store inserts.

Every insert carries a deduplication token derived from the records' identities, so a
retried insert of the same block is dropped; the tables' replacing keys absorb the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import TEXTS_BY_HASH, TEXTS_HEADER, Delivery, TransientError
from kiseki.core.kafka_batches import Rest, all_of, wait_out
from kiseki.core.status import is_lifecycle
from kiseki.core.store import Store, StoreUnavailable
from kiseki.core.store.base import Encoded, Row
from kiseki.core.store.prompts import KnownPrompts, insert_prompts
from kiseki.core.store.rows import checkpoint_rows, status_row, summary_row
from kiseki.core.store.sample_wire import encoded_samples, record_samples
from kiseki.v1 import events_pb2 as ev

# How the sink's consumer decodes a results record: of each sample only what the writer
# needs, the rest left as it came for the store to decode (sample_wire.py).
RESULTS_VIEW = ev.JobResults.View
# A results record as the consumer decodes it, or as a producer made it.
Results = ev.JobResults.View | ev.JobResults


def dedup_token(kind: str, identities: Sequence[str]) -> str:
    return f"{kind}-" + hashlib.sha256("\x1f".join(identities).encode()).hexdigest()[:32]


def _value(delivery: Delivery[Any]) -> bytes:
    return delivery.value or delivery.message.SerializeToString()


def _view(delivery: Delivery[Any]) -> ev.JobResults.View:
    """The record as the consumer decoded it, or parsed so from a message made in process."""
    if isinstance(delivery.message, ev.JobResults.View):
        return delivery.message
    return ev.JobResults.View.FromString(_value(delivery))


def _results_identity(delivery: Delivery[Any]) -> str:
    """What one results message holds: a job's last chunk (with its summary) or the chunk
    starting at a sample; the same for a redelivered job, so its insert is dropped."""
    summary: ev.JobSummary = delivery.message.summary
    if summary.job_id:
        return summary.job_id
    samples = _view(delivery).samples
    if samples:
        return f"{samples[0].job_id}@{samples[0].sample_index}"
    return f"{delivery.partition}:{delivery.offset}"


def validate_record(message: Any) -> None:
    """Refuse, as the consumer decodes it, a prompts record whose text does not hash to its
    key: it is dead-lettered alone, before its fetch's inserts."""
    if isinstance(message, ev.PromptText) and prompt_hash(message.text) != message.prompt_hash:
        raise ValueError(f"prompt text does not hash to {message.prompt_hash.hex()!r}")


class StoreWriter:
    def __init__(
        self, store: Store, max_insert_rows: int = 50_000, known_prompts: int = 200_000
    ) -> None:
        self.store, self.max_insert_rows = store, max_insert_rows
        self.known = KnownPrompts(known_prompts)
        self._inserting: asyncio.Task[None] | None = None  # the samples insert running
        self._summaries: Rest | None = None  # the last batch's summaries, once its samples

    async def _insert(self, table: str, rows: list[Row], token: str) -> None:
        await self._off_loop(self.store.insert_rows, table, rows, token)

    async def _insert_samples(self, batch: Sequence[Delivery[Any]], token: str) -> Rest | None:
        """Starts inserts of whole records, at most max_insert_rows sample rows each (a bigger
        record alone), the store decoding the records' samples, a chunk's new prompts with it;
        a chunk's token is the batch's with the chunk's position, the same again for the same
        batch. One insert runs at a time (in a thread, the store working) while the next
        chunk is read, across batches too. Returns when the last chunk has started: the future
        is done when every chunk is written. A record's new prompts count as known at once,
        so the next does not send them again, and are forgotten if the batch fails (it will
        be redelivered)."""
        sent: list[bytes] = []
        chunks: list[asyncio.Task[None]] = []
        parts: list[bytes] = []
        prompts: dict[bytes, str] = {}
        first = rows = 0
        try:
            for delivery in batch:
                view = _view(delivery)
                count = len(view.samples)
                if parts and rows + count > self.max_insert_rows:
                    chunks.append(await self._start_chunk(parts, rows, prompts, f"{token}-{first}"))
                    parts, prompts, first, rows = [], {}, first + rows, 0
                fresh: dict[bytes, str] = {}
                by_hash = delivery.headers.get(TEXTS_HEADER) == TEXTS_BY_HASH
                parts.append(record_samples(view, _value(delivery), self.known, fresh, by_hash))
                self.known.add(fresh)
                sent.extend(fresh)
                prompts.update(fresh)
                rows += count
            if rows:
                chunks.append(await self._start_chunk(parts, rows, prompts, f"{token}-{first}"))
        except BaseException:
            await asyncio.gather(*chunks, return_exceptions=True)
            self.known.forget(sent)
            raise
        return asyncio.ensure_future(self._written(chunks, sent)) if chunks else None

    async def _start_chunk(
        self, parts: list[bytes], rows: int, prompts: dict[bytes, str], token: str
    ) -> asyncio.Task[None]:
        if self._inserting is not None:
            await wait_out(self._inserting)  # an error is its batch's to see
        write = self._off_loop(self._write_chunk, encoded_samples(parts, rows), prompts, token)
        self._inserting = asyncio.create_task(write)
        return self._inserting

    async def _written(self, chunks: list[asyncio.Task[None]], sent: list[bytes]) -> None:
        try:
            await all_of(chunks)
        except BaseException:
            self.known.forget(sent)
            raise

    def _write_chunk(self, samples: Encoded, prompts: dict[bytes, str], token: str) -> None:
        insert_prompts(self.store, prompts, f"{token}-prompts")
        self.store.insert_encoded("sample_results", samples, token)

    @staticmethod
    async def _off_loop(insert: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(insert, *args)
        except StoreUnavailable as error:
            raise TransientError(str(error)) from error

    def _succeeded(self, job_ids: list[str]) -> set[str]:
        rows = self.store.query(
            "SELECT DISTINCT job_id FROM job_summaries WHERE failed = 0"
            " AND job_id IN {ids:Array(String)}",
            {"ids": job_ids},
        )
        return {row["job_id"] for row in rows}

    async def _without_stale_failures(self, summaries: list[Row]) -> list[Row]:
        """A redelivered job that failed (its endpoint already torn down, say) must not
        replace the success the same job had: the summary table keeps the latest row."""
        failed = [str(r["job_id"]) for r in summaries if r["failed"]]
        if not failed:
            return summaries
        await wait_out(self._summaries)  # the batch before's may hold the success
        try:
            succeeded = await asyncio.to_thread(self._succeeded, failed)
        except StoreUnavailable as error:
            raise TransientError(str(error)) from error
        succeeded |= {str(r["job_id"]) for r in summaries if not r["failed"]}
        return [r for r in summaries if not (r["failed"] and r["job_id"] in succeeded)]

    async def write_results(self, batch: Sequence[Delivery[Any]]) -> None:
        """`batch`: Delivery[Results], as the consumer decodes them or as made in process."""
        await (await self.start_results(batch))

    async def start_results(self, batch: Sequence[Delivery[Any]]) -> Rest:
        """Reads `batch` and starts its inserts; the future finishes them: the samples, then
        the job summaries (a job is whole in the store only once its samples are)."""
        summaries = await self._without_stale_failures(
            [summary_row(d.message.summary) for d in batch if d.message.summary.job_id]
        )
        jobs = [_results_identity(d) for d in batch]
        samples = await self._insert_samples(batch, dedup_token("samples", jobs))
        self._summaries = asyncio.ensure_future(self._summaries_after(samples, summaries, jobs))
        return self._summaries

    async def _summaries_after(
        self, samples: Rest | None, summaries: list[Row], jobs: list[str]
    ) -> None:
        if samples is not None:
            await samples
        await self._insert("job_summaries", summaries, dedup_token("summaries", jobs))

    async def write_prompts(self, batch: list[Delivery[ev.PromptText]]) -> None:
        """The prompts topic's texts not written yet (each checked by `validate_record`)."""
        fresh: dict[bytes, str] = {}
        for delivery in batch:
            text = delivery.message
            if text.prompt_hash not in self.known:
                fresh[text.prompt_hash] = text.text
        keys = [digest.hex() for digest in fresh]
        await self._off_loop(insert_prompts, self.store, fresh, dedup_token("prompts", keys))
        self.known.add(fresh)

    async def write_status(self, batch: list[Delivery[ev.CheckpointStatus]]) -> None:
        # An announcement (the sink's own, read back) is in regression_alerts already.
        rows = [status_row(d.message) for d in batch if is_lifecycle(d.message)]
        keys = [f"{r['checkpoint_id']}|{r['state']}|{r['changed_at']}" for r in rows]
        await self._insert("checkpoint_status", rows, dedup_token("status", keys))

    async def write_checkpoints(self, batch: list[Delivery[ev.CheckpointDiscovered]]) -> None:
        pairs = [checkpoint_rows(d.message) for d in batch]
        ids = [d.message.checkpoint_id for d in batch]
        await self._insert("checkpoints", [c for c, _ in pairs], dedup_token("checkpoints", ids))
        await self._insert("runs", [r for _, r in pairs], dedup_token("runs", ids))
