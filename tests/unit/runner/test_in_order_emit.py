"""Concurrent emits, one of which awaits for a while, reach the consumer in the order in
which their ranges were taken (a CI run once saw samples 32-39 published between 17 and 18)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kiseki.runner.evaluate import in_order
from kiseki.v1 import events_pb2 as ev


async def test_a_slow_first_emit_is_not_overtaken_by_a_later_one() -> None:
    published: list[int] = []
    first_may_finish = asyncio.Event()

    async def publish_in_two_messages(samples: Sequence[ev.SampleResult]) -> None:
        half = len(samples) // 2
        published.extend(s.sample_index for s in samples[:half])
        if samples[0].sample_index == 0:
            await first_may_finish.wait()
        published.extend(s.sample_index for s in samples[half:])

    async def release_the_first_once_the_second_has_started() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        first_may_finish.set()

    emit = in_order(publish_in_two_messages)
    await asyncio.gather(
        emit([ev.SampleResult(sample_index=i) for i in range(4)]),
        emit([ev.SampleResult(sample_index=i) for i in range(4, 8)]),
        release_the_first_once_the_second_has_started(),
    )
    assert published == list(range(8))
