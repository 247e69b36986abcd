"""The records' samples as the store decodes them: the prompts cut out (a new one's text kept
aside once, a missing or wrong hash replaced by the text's), the summary cut off, and a
schema that is SampleResult's own."""

from __future__ import annotations

from kiseki.core.ids import prompt_hash
from kiseki.core.store.prompts import KnownPrompts
from kiseki.core.store.sample_wire import SETTINGS, STRUCTURE, record_samples
from kiseki.v1 import events_pb2 as ev


def test_prompts_are_cut_out_new_ones_kept_once_and_hashes_made_right() -> None:
    known = KnownPrompts(10)
    known.add([prompt_hash("seen")])
    samples = [
        ev.SampleResult(prompt="seen", prompt_hash=prompt_hash("seen"), sample_index=0),
        ev.SampleResult(prompt="new", prompt_hash=prompt_hash("new"), sample_index=1),
        ev.SampleResult(prompt="new", prompt_hash=prompt_hash("new"), sample_index=2),
        ev.SampleResult(prompt="old runner", sample_index=3),
        ev.SampleResult(prompt="lied", prompt_hash=prompt_hash("other"), sample_index=4),
    ]
    record = ev.JobResults(samples=samples, summary=ev.JobSummary(job_id="job", num_samples=5))
    new: dict[bytes, str] = {}
    value = record.SerializeToString()
    stored = record_samples(ev.JobResults.View.FromString(value), value, known, new)
    assert new == {prompt_hash(t): t for t in ("new", "old runner", "lied")}
    back = ev.JobResults.FromString(stored)
    assert not back.HasField("summary")
    assert [s.prompt for s in back.samples] == [""] * 5
    assert [s.prompt_hash for s in back.samples] == [prompt_hash(s.prompt) for s in samples]
    for sample in samples:
        sample.ClearField("prompt")
        sample.ClearField("prompt_hash")
    for sample in back.samples:
        sample.ClearField("prompt_hash")
    assert list(back.samples) == samples


def test_a_view_handled_again_reads_the_texts_it_cut_out_from_the_records_bytes() -> None:
    """A batch retried record by record hands the writer the same views again, their texts
    cut out, while the prompts they sent are forgotten (the batch failed)."""
    record = ev.JobResults(samples=[ev.SampleResult(prompt=f"p{i}") for i in range(3)])
    record.samples[1].prompt_hash = prompt_hash("p1")
    value = record.SerializeToString()
    view = ev.JobResults.View.FromString(value)
    known = KnownPrompts(10)
    first: dict[bytes, str] = {}
    once = record_samples(view, value, known, first)
    again: dict[bytes, str] = {}
    assert record_samples(view, value, known, again) == once
    assert again == first == {prompt_hash(f"p{i}"): f"p{i}" for i in range(3)}


def test_the_schema_holds_every_field_of_a_sample_but_its_prompt() -> None:
    schema = SETTINGS["format_schema"]
    for field in ev.SampleResult.DESCRIPTOR.fields:
        line = f" {field.name} = {field.number};"
        assert (line in schema) == (field.name != "prompt"), field.name
        assert (f"{field.name} " in STRUCTURE) == (field.name != "prompt"), field.name


def test_the_views_read_a_record_with_the_records_own_field_numbers() -> None:
    record = ev.JobResults.DESCRIPTOR
    sample = ev.SampleResult.DESCRIPTOR
    for field in ev.JobResults.View.DESCRIPTOR.fields:
        assert record.fields_by_name[field.name].number == field.number
    for field in ev.JobResults.View.Sample.DESCRIPTOR.fields:
        assert sample.fields_by_name[field.name].number == field.number


def test_samples_sent_without_their_texts_keep_their_hashes() -> None:
    """A runner publishes a prompt's text on the prompts topic and the samples by hash: the
    writer keeps each hash, new to it or not, and takes no text from the record."""
    samples = [ev.SampleResult(prompt_hash=prompt_hash(f"p{i}"), sample_index=i) for i in range(3)]
    value = ev.JobResults(samples=samples).SerializeToString()
    new: dict[bytes, str] = {}
    stored = record_samples(ev.JobResults.View.FromString(value), value, KnownPrompts(10), new)
    assert new == {}
    assert [s.prompt_hash for s in ev.JobResults.FromString(stored).samples] == [
        prompt_hash(f"p{i}") for i in range(3)
    ]
