"""A job's results as Kafka-sized messages: samples in chunks, the summary in the last one.

A real llm-jp-eval test set (jsquad: 4,442 samples, 4-shot prompts of a few kB) is many
megabytes, far above a broker's message limit. Every chunk but the last carries samples
only; the last carries the summary, so a job counts as reported only once all of its samples
were published before it (one key, one partition, in order). Chunk boundaries depend only on
the samples, so a redelivered job yields the same chunks and the store keeps one row each.
"""

from __future__ import annotations

from kiseki.core.ids import prompt_hash
from kiseki.v1 import events_pb2 as ev

# Kafka's record framing, key and headers take a little room beyond the protobuf bytes.
FRAMING_ALLOWANCE_BYTES = 4096
TRUNCATION_MARK = "…[truncated by kiseki: sample larger than a message]"


def _fitted(sample: ev.SampleResult, limit: int) -> ev.SampleResult:
    """A sample larger than a whole message keeps its scores; its long texts are cut."""
    if sample.ByteSize() <= limit:
        return sample
    fitted = ev.SampleResult()
    fitted.CopyFrom(sample)
    budget = max(limit // 4, 0)
    for name in ("prompt", "raw_output", "prediction", "gold"):
        text = getattr(fitted, name)
        if len(text.encode()) > budget:
            cut = text.encode()[:budget].decode(errors="ignore")
            setattr(fitted, name, cut + TRUNCATION_MARK)
    if fitted.prompt != sample.prompt:  # the prompt kept is the one stored
        fitted.prompt_hash = prompt_hash(fitted.prompt)
    return fitted


def split_results(results: ev.JobResults, max_message_bytes: int) -> list[ev.JobResults]:
    """Messages of at most `max_message_bytes` (less framing), in order, summary last."""
    limit = max_message_bytes - FRAMING_ALLOWANCE_BYTES - results.summary.ByteSize()
    if limit <= 0:
        raise ValueError(f"max message size {max_message_bytes} B leaves no room for samples")
    messages: list[ev.JobResults] = []
    current = ev.JobResults()
    for sample in results.samples:
        fitted = _fitted(sample, limit)
        # Each repeated field adds a tag and a length prefix of at most a few bytes.
        if current.samples and current.ByteSize() + fitted.ByteSize() + 8 > limit:
            messages.append(current)
            current = ev.JobResults()
        current.samples.append(fitted)
    current.summary.CopyFrom(results.summary)
    messages.append(current)
    return messages
