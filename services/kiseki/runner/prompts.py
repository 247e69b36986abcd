"""Prompt texts once on the prompts topic, results records without them.

A 4-shot prompt is one to two kilobytes, the same at every checkpoint of a run; sent inside
each sample it made the texts ~90 % of the results topic's bytes, which the sink then read,
checked and cut out row by row (tools/bench/sink.py). A runner sends a prompt's text to the
compacted prompts topic the first time it meets its hash, waits for the broker's
acknowledgement, and only then sends results naming it by hash alone: whoever reads a result
finds its prompt's text on the prompts topic (or already in the store). A text too long for a
message stays in its sample, where the results' own chunking cuts it, as does one whose hash
is not its text's (the sink hashes such a text itself).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence

from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import TEXTS_BY_HASH, TEXTS_HEADER, ProtoProducer
from kiseki.runner.chunks import FRAMING_ALLOWANCE_BYTES
from kiseki.v1 import events_pb2 as ev


class PromptsOut:
    """The hashes of the prompts this runner has published, the latest `capacity` of them:
    one forgotten is only published again."""

    def __init__(
        self, producer: ProtoProducer, topic: str, max_message_bytes: int, capacity: int
    ) -> None:
        self._producer, self._topic, self._capacity = producer, topic, capacity
        self._limit = max_message_bytes - FRAMING_ALLOWANCE_BYTES
        self._sent: OrderedDict[bytes, None] = OrderedDict()

    async def publish(self, samples: Sequence[ev.SampleResult]) -> list[ev.SampleResult]:
        """`samples` as the results records carry them: the text of every prompt published
        here (now, or before) left out."""
        new: dict[bytes, ev.PromptText] = {}
        for sample in samples:
            digest = sample.prompt_hash
            if digest in self._sent:
                self._sent.move_to_end(digest)
            elif digest and digest not in new and digest == prompt_hash(sample.prompt):
                text = ev.PromptText(prompt_hash=digest, text=sample.prompt)
                if text.ByteSize() <= self._limit:
                    new[digest] = text
        await asyncio.gather(
            *(self._producer.send(self._topic, t, key=d.hex()) for d, t in new.items())
        )
        for digest in new:
            self._sent[digest] = None
        while len(self._sent) > self._capacity:
            self._sent.popitem(last=False)
        out = []
        for sample in samples:
            if sample.prompt and sample.prompt_hash in self._sent:
                sample = _without_text(sample)
            out.append(sample)
        return out


def texts_header(results: ev.JobResults) -> dict[str, str]:
    """The header a results record carries when every sample names its prompt by hash alone."""
    if all(sample.prompt_hash and not sample.prompt for sample in results.samples):
        return {TEXTS_HEADER: TEXTS_BY_HASH}
    return {}


def _without_text(sample: ev.SampleResult) -> ev.SampleResult:
    bare = ev.SampleResult()
    bare.CopyFrom(sample)
    bare.ClearField("prompt")
    return bare
