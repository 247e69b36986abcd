"""A consumer that hands a whole fetch to its handler, and lets the handler's writes overlap
the next fetch.

A batch handler may return once it has read a fetch, handing back the rest of its work still
running (the fetch's last store insert, say) as a future: the consumer fetches and hands over
the next fetch meanwhile, and commits a fetch only once its rest is done, in order. Without
it each of the sink bench's fetches (200 records, ~800 ms into a ClickHouse server) began
with ~130 ms of reading while the store idled and ended with ~110 ms of inserting while the
sink did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from kiseki.core.kafka import Delivery, M, TransientError
from kiseki.core.kafka_consumer import ProtoConsumer

# What a batch handler leaves running on a fetch: done when the fetch is written.
Rest = asyncio.Future[None]
Records = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
BatchHandler = Callable[[list[Delivery[M]]], Awaitable[Rest | None]]

log = logging.getLogger(__name__)


@dataclass
class Fetch(Generic[M]):
    """A fetch's records: those decoded (`pending`) and those to dead-letter (`poison`).
    `generation`: the consumer's assignment it was fetched under; after a rebalance its
    offsets are not committed (the records come again from the group's committed offsets)."""

    records: Records
    generation: int
    pending: list[tuple[ConsumerRecord[bytes, bytes], Delivery[M]]] = field(default_factory=list)
    poison: list[tuple[ConsumerRecord[bytes, bytes], str]] = field(default_factory=list)
    rest: Rest | None = None

    def __len__(self) -> int:
        return sum(len(records) for records in self.records.values())

    def ends(self) -> dict[TopicPartition, int]:
        """The offsets to commit once the fetch is written."""
        return {partition: records[-1].offset + 1 for partition, records in self.records.items()}

    def starts(self) -> dict[TopicPartition, int]:
        return {partition: records[0].offset for partition, records in self.records.items()}


def rewind_to(*fetches: Fetch[M] | None) -> dict[TopicPartition, int]:
    """Where each partition starts again so that none of `fetches`' records is skipped."""
    offsets: dict[TopicPartition, int] = {}
    for fetch in fetches:
        for partition, start in (fetch.starts() if fetch else {}).items():
            offsets[partition] = min(start, offsets.get(partition, start))
    return offsets


async def wait_out(rest: Rest | None) -> None:
    """Wait for `rest` to end, whatever its outcome (its error is reported elsewhere or moot)."""
    if rest is None:
        return
    await asyncio.wait([rest])
    if not rest.cancelled():
        rest.exception()  # retrieved: asyncio does not log it as never retrieved


async def all_of(rests: Sequence[Rest]) -> None:
    """Every one of `rests` ended, then the first error raised (gather would raise it while
    the others still run)."""
    outcomes = await asyncio.gather(*rests, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


class BatchConsumer(ProtoConsumer[M]):
    """A ProtoConsumer that hands its records to the handler a fetch at a time."""

    # The fetch handed over whose rest is still running, committed after the next is.
    _unfinished: Fetch[M] | None = None

    async def poll_batch(
        self, handler: BatchHandler[M], timeout_ms: int = 1000, max_records: int = 500
    ) -> int:
        """Hand every valid record of one fetch to `handler` at once (one store insert, say);
        return how many records the fetch held.

        Records that do not decode or validate are dead-lettered first. The handler may hand
        back the rest of its work still running (above): the fetch is then committed
        after the next one has been handed over, once that rest is done. On TransientError
        every partition is rewound to the start of the earliest fetch not committed and the
        error propagates. On any other error the records are retried one by one, so only the
        poison ones are dead-lettered.
        """
        records = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        fetch = self._decoded(records)
        earlier, self._unfinished = self._unfinished, None
        try:
            fetch.rest = await self._hand_over(fetch.pending, handler)
            await self._finish(earlier, handler)
        except TransientError:
            await wait_out(fetch.rest)
            await wait_out(earlier.rest if earlier else None)
            self._rewind(earlier, fetch)
            raise
        if fetch.rest is None:
            await self._finish(fetch, handler)
        else:
            self._unfinished = fetch
        return len(fetch)

    def _decoded(self, records: Records) -> Fetch[M]:
        fetch: Fetch[M] = Fetch(records, self._generation)
        for batch in records.values():
            for record in batch:
                try:
                    fetch.pending.append((record, self._decode_valid(record)))
                except ValueError as error:
                    fetch.poison.append((record, str(error)))
        return fetch

    async def _hand_over(
        self,
        pending: list[tuple[ConsumerRecord[bytes, bytes], Delivery[M]]],
        handler: BatchHandler[M],
    ) -> Rest | None:
        if not pending:
            return None
        return await self._or_one_by_one(handler([d for _, d in pending]), pending, handler)

    async def _finish(self, fetch: Fetch[M] | None, handler: BatchHandler[M]) -> None:
        """Once `fetch`'s rest is done: its poison dead-lettered (only now: a rewound fetch
        would send them twice), its offsets committed."""
        if fetch is None:
            return
        if fetch.rest is not None:
            await self._or_one_by_one(fetch.rest, fetch.pending, handler)
        await self._close(fetch)

    async def _close(self, fetch: Fetch[M]) -> None:
        for record, reason in fetch.poison:
            await self._dead_letter(record, reason)
        if fetch.records and fetch.generation == self._generation:
            await self._consumer.commit(fetch.ends())

    async def _or_one_by_one(
        self,
        work: Awaitable[Rest | None],
        pending: list[tuple[ConsumerRecord[bytes, bytes], Delivery[M]]],
        handler: BatchHandler[M],
    ) -> Rest | None:
        """`work`'s outcome (handing `pending` over, or its rest); when it fails but for a
        transient error, the records written one by one instead."""
        try:
            return await work
        except TransientError:
            raise
        except KafkaError as error:
            raise TransientError(f"broker unavailable: {error}") from error
        except Exception:
            log.exception("batch handler failed; retrying records one by one")
        await self._one_by_one(pending, handler)
        return None

    async def _one_by_one(
        self,
        pending: list[tuple[ConsumerRecord[bytes, bytes], Delivery[M]]],
        handler: BatchHandler[M],
    ) -> None:
        for record, delivery in pending:
            try:
                rest = await handler([delivery])
                if rest is not None:
                    await rest
            except TransientError:
                raise
            except Exception as error:
                await self._dead_letter(record, f"{type(error).__name__}: {error}")

    def _rewind(self, *fetches: Fetch[M] | None) -> None:
        current = [f for f in fetches if f is not None and f.generation == self._generation]
        assigned = self._consumer.assignment()
        for partition, offset in rewind_to(*current).items():
            if partition in assigned:
                self._consumer.seek(partition, offset)

    async def _settle(self) -> None:
        """The fetch left unfinished, if any, committed if its rest succeeds, else left to be
        fetched again."""
        fetch, self._unfinished = self._unfinished, None
        if fetch is None:
            return
        await wait_out(fetch.rest)
        assert fetch.rest is not None
        if fetch.rest.cancelled() or fetch.rest.exception() is not None:
            log.warning("an unfinished fetch failed; it will be fetched again")
            return
        try:
            await self._close(fetch)
        except (KafkaError, TransientError) as error:
            log.warning("could not commit a finished fetch", extra={"error": str(error)})
