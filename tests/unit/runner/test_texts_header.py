"""A results record is marked as naming its prompts by hash only when every sample does."""

from __future__ import annotations

from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import TEXTS_BY_HASH, TEXTS_HEADER
from kiseki.runner.prompts import texts_header
from kiseki.v1 import events_pb2 as ev


def test_a_record_is_marked_only_when_every_sample_names_its_prompt_by_hash() -> None:
    bare = ev.SampleResult(prompt_hash=prompt_hash("p"))
    inline = ev.SampleResult(prompt="p", prompt_hash=prompt_hash("p"))
    unhashed = ev.SampleResult(sample_index=1)
    assert texts_header(ev.JobResults(samples=[bare, bare])) == {TEXTS_HEADER: TEXTS_BY_HASH}
    assert texts_header(ev.JobResults(samples=[bare, inline])) == {}
    assert texts_header(ev.JobResults(samples=[unhashed, bare])) == {}
