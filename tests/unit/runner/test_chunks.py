"""A job's results are cut into messages that fit the broker, summary last, stable on replay."""

from __future__ import annotations

import pytest

from kiseki.core.ids import prompt_hash
from kiseki.runner.chunks import FRAMING_ALLOWANCE_BYTES, TRUNCATION_MARK, split_results
from kiseki.v1 import events_pb2 as ev

LIMIT = 64 * 1024


def _results(count: int, prompt_bytes: int) -> ev.JobResults:
    results = ev.JobResults(summary=ev.JobSummary(job_id="job-1", num_samples=count))
    for index in range(count):
        results.samples.add(
            job_id="job-1", sample_index=index, prompt="あ" * (prompt_bytes // 3), gold="x"
        ).metrics["exact_match"] = 1.0
    return results


def test_large_results_become_several_messages_under_the_limit_in_order() -> None:
    results = _results(400, 2000)  # ~800 kB of prompts
    messages = split_results(results, LIMIT)
    assert len(messages) > 10
    assert all(m.ByteSize() <= LIMIT - FRAMING_ALLOWANCE_BYTES for m in messages)
    indices = [s.sample_index for m in messages for s in m.samples]
    assert indices == list(range(400))


def test_only_the_last_message_carries_the_summary() -> None:
    messages = split_results(_results(400, 2000), LIMIT)
    assert [m.summary.job_id for m in messages[:-1]] == [""] * (len(messages) - 1)
    assert messages[-1].summary.job_id == "job-1"
    assert messages[-1].summary.num_samples == 400


def test_small_results_stay_one_message() -> None:
    results = _results(5, 100)
    assert split_results(results, LIMIT) == [results]


def test_results_without_samples_still_report_the_summary() -> None:
    results = ev.JobResults(summary=ev.JobSummary(job_id="job-1", failed=True, error="down"))
    [message] = split_results(results, LIMIT)
    assert message.summary.error == "down"
    assert not message.samples


def test_the_same_results_split_the_same_way_on_a_redelivery() -> None:
    first = split_results(_results(300, 3000), LIMIT)
    second = split_results(_results(300, 3000), LIMIT)
    assert [m.SerializeToString() for m in first] == [m.SerializeToString() for m in second]


def test_a_sample_larger_than_a_message_keeps_its_scores_and_loses_text() -> None:
    results = _results(3, 200_000)
    messages = split_results(results, LIMIT)
    samples = [s for m in messages for s in m.samples]
    assert [s.sample_index for s in samples] == [0, 1, 2]
    assert all(s.prompt.endswith(TRUNCATION_MARK) for s in samples)
    assert all(s.prompt_hash == prompt_hash(s.prompt) for s in samples)  # the text kept
    assert all(s.metrics["exact_match"] == 1.0 for s in samples)
    assert all(m.ByteSize() <= LIMIT for m in messages)


def test_a_large_sample_whose_text_went_to_the_prompts_topic_keeps_its_hash() -> None:
    sample = ev.SampleResult(sample_index=0, raw_output="x" * 200_000, prompt_hash=b"h" * 16)
    [message] = split_results(ev.JobResults(samples=[sample]), LIMIT)
    assert message.samples[0].raw_output.endswith(TRUNCATION_MARK)
    assert (message.samples[0].prompt, message.samples[0].prompt_hash) == ("", b"h" * 16)


def test_a_limit_too_small_for_anything_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        split_results(_results(1, 10), FRAMING_ALLOWANCE_BYTES)
