"""The fast insert path, on chDB and a server: results records decoded by the store hold the
same values as rows, a batch inserted again with its token lands once, and a prompt is written
once however many checkpoints ask it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

import pytest

from kiseki.core.ids import prompt_hash
from kiseki.core.kafka import Delivery, TransientError
from kiseki.core.store import Store, StoreUnavailable
from kiseki.core.store.base import Columns, Encoded
from kiseki.core.store.prompts import (
    KnownPrompts,
    insert_prompts,
    insert_sample_rows,
    stored_digests,
)
from kiseki.core.store.rows import sample_row
from kiseki.core.store.sample_wire import encoded_samples, record_samples
from kiseki.sink.writer import RESULTS_VIEW, StoreWriter
from kiseki.v1 import events_pb2 as ev

READ_BACK = (
    "SELECT * EXCEPT (run_id, inserted_at) FROM samples WHERE run_id = {run:String}"
    " ORDER BY sample_index"
)


def _samples(run: str, count: int) -> list[ev.SampleResult]:
    return [
        ev.SampleResult(
            run_id=run,
            checkpoint_id="ck",
            step=10,
            dataset="jnli",
            sample_index=index,
            scoring_mode=ev.SCORING_MODE_LOGLIKELIHOOD,
            job_id="job",
            prompt="前提と仮説の関係を答えよ\n'quoted'\\",
            prompt_hash=prompt_hash("前提と仮説の関係を答えよ\n'quoted'\\"),
            raw_output="entailment\n\n",
            prediction="entailment",
            gold="contradiction" if index % 2 else "entailment",
            metrics={"exact_match": float(index % 2 == 0), "acc": 1.0},
            format_followed=index % 3 == 0,
            latency_ms=2.5 * index,
            choice_logprobs=[-0.1 * index, -2.0] if index else [],
        )
        for index in range(count)
    ]


def _count(store: Store, run: str) -> int:
    sql = "SELECT count() AS n FROM sample_results WHERE run_id = {run:String}"
    return int(store.query(sql, {"run": run})[0]["n"])


def _encoded(samples: list[ev.SampleResult]) -> tuple[Encoded, dict[bytes, str]]:
    """The samples as one record, as the sink inserts it (the store decoding it)."""
    record = ev.JobResults(samples=samples, summary=ev.JobSummary(job_id="job"))
    value = record.SerializeToString()
    new: dict[bytes, str] = {}
    part = record_samples(ev.JobResults.View.FromString(value), value, KnownPrompts(10), new)
    return encoded_samples([part], len(samples)), new


def test_records_decoded_by_the_store_hold_what_rows_held(store: Store) -> None:
    """Every sample's own fields, whatever job or mode its neighbours have."""
    samples = _samples("encoded", 7)
    samples[3].job_id, samples[3].step, samples[3].dataset = "other", 20, "jamp"
    samples[4].scoring_mode, samples[4].checkpoint_id = ev.SCORING_MODE_GENERATE, "ck-2"
    samples[5].scoring_mode = ev.SCORING_MODE_GOLD
    encoded, prompts = _encoded(samples)
    insert_prompts(store, prompts)
    store.insert_encoded("sample_results", encoded)
    rows = [dict(sample_row(s)) for s in samples]
    for row in rows:
        row["run_id"] = "rows"
    insert_sample_rows(store, rows)
    by_store = store.query(READ_BACK, {"run": "encoded"})
    assert by_store == store.query(READ_BACK, {"run": "rows"})
    assert by_store[2]["metrics"] == {"exact_match": 1.0, "acc": 1.0}
    assert by_store[0]["choice_logprobs"] == []
    assert [r["scoring_mode"] for r in by_store[3:6]] == ["loglikelihood", "generate", "gold"]


def test_a_record_marked_by_hash_is_stored_as_the_same_rows(store: Store) -> None:
    """The runner's header spares the sink looking at each sample, not a field of a row."""
    stored = {}
    for run, by_hash in (("looked-at", False), ("by-hash", True)):
        samples = _samples(run, 5)
        for sample in samples:
            sample.ClearField("prompt")
        value = ev.JobResults(
            samples=samples, summary=ev.JobSummary(job_id=run)
        ).SerializeToString()
        view = ev.JobResults.View.FromString(value)
        part = record_samples(view, value, KnownPrompts(10), {}, by_hash)
        store.insert_encoded("sample_results", encoded_samples([part], 5))
        stored[run] = store.query(READ_BACK, {"run": run})
    assert stored["by-hash"] == stored["looked-at"]
    assert [r["sample_index"] for r in stored["by-hash"]] == list(range(5))


def test_a_batch_inserted_again_with_its_token_lands_once(store: Store) -> None:
    """Counted without FINAL: the table itself dropped the second block."""
    encoded, _ = _encoded(_samples("run", 50))
    store.insert_encoded("sample_results", encoded, dedup_token="samples-abc")
    store.insert_encoded("sample_results", encoded, dedup_token="samples-abc")
    assert _count(store, "run") == 50
    store.insert_encoded("sample_results", encoded, dedup_token="samples-other")
    assert _count(store, "run") == 100


class Recording:
    """The real store, noting the size of each column-oriented insert."""

    def __init__(self, store: Store) -> None:
        self.store, self.sizes = store, defaultdict[str, list[int]](list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def insert_columns(self, table: str, columns: Columns, dedup_token: str = "") -> None:
        self.sizes[table].append(len(next(iter(columns.values()))))
        self.store.insert_columns(table, columns, dedup_token)

    def insert_encoded(self, table: str, encoded: Encoded, dedup_token: str = "") -> None:
        self.sizes[table].append(encoded.rows)
        self.store.insert_encoded(table, encoded, dedup_token)


async def test_the_writer_splits_a_fetch_and_a_redelivery_lands_once(store: Store) -> None:
    """Chunks of whole records, up to max_insert_rows (a bigger record alone), decoded by
    the store from the records' bytes: the values a row holds, each prompt once."""
    records = []
    for index, (first, count) in enumerate([(0, 2), (2, 1), (3, 1), (4, 3)]):
        results = ev.JobResults(summary=ev.JobSummary(job_id=f"job-{index}", run_id="run"))
        results.samples.extend(_samples("run", 7)[first : first + count])
        value = results.SerializeToString()
        records.append(
            Delivery(RESULTS_VIEW.FromString(value), "ck", {}, "results", 0, index, value=value)
        )
    recording = Recording(store)
    writer = StoreWriter(cast(Store, recording), max_insert_rows=2)
    await writer.write_results(records)
    await writer.write_results(records)  # redelivered: every chunk carries the same token again
    assert recording.sizes == {"sample_results": [2, 2, 3, 2, 2, 3], "prompts": [1]}
    insert_sample_rows(store, [sample_row(s) for s in _samples("rows", 7)])
    assert store.query(READ_BACK, {"run": "run"}) == store.query(READ_BACK, {"run": "rows"})


def _job(checkpoint: str, samples: list[ev.SampleResult]) -> Delivery[ev.JobResults]:
    results = ev.JobResults(summary=ev.JobSummary(job_id=checkpoint, checkpoint_id=checkpoint))
    for sample in samples:
        results.samples.add().CopyFrom(sample)
        results.samples[-1].checkpoint_id = checkpoint
    return Delivery(results, checkpoint, {}, "results", 0, 0)


async def test_a_prompt_asked_at_every_checkpoint_is_written_once(store: Store) -> None:
    """Three checkpoints ask the same three prompts: their texts are sent once, each row
    shows its own; a message without the hash (an older runner) or with a wrong one is
    stored under its text's hash."""
    samples = _samples("once", 3)
    for index, sample in enumerate(samples):
        sample.prompt = f"prompt {index}"
        sample.prompt_hash = prompt_hash(sample.prompt) if index else b""
    recording = Recording(store)
    writer = StoreWriter(cast(Store, recording))
    await writer.write_results([_job("ck-1", samples)])
    samples[1].prompt_hash = prompt_hash("another prompt")
    await writer.write_results([_job("ck-2", samples), _job("ck-3", samples)])
    assert recording.sizes["prompts"] == [3]
    rows = store.query(
        "SELECT checkpoint_id, sample_index, prompt FROM samples WHERE run_id = 'once' ORDER BY ALL"
    )
    assert [(r["checkpoint_id"], r["prompt"]) for r in rows] == [
        (f"ck-{c}", f"prompt {i}") for c in (1, 2, 3) for i in range(3)
    ]
    [held] = store.query("SELECT count() AS n FROM prompts FINAL WHERE prompt LIKE 'prompt %'")
    assert held["n"] == 3


class FailingOnce(Recording):
    """The real store, refusing the second prompts insert once (the store went away)."""

    def insert_columns(self, table: str, columns: Columns, dedup_token: str = "") -> None:
        if table == "prompts" and len(self.sizes["prompts"]) == 1 and not self.sizes["failed"]:
            self.sizes["failed"].append(1)
            raise StoreUnavailable("gone")
        super().insert_columns(table, columns, dedup_token)


async def test_prompts_of_a_failed_chunk_are_sent_again_on_the_redelivery(store: Store) -> None:
    """Chunks overlap (the next is built while one is written): a chunk's prompts count as
    known before its insert ends, so a failed batch must forget them."""
    samples = _samples("retry", 6)
    for index, sample in enumerate(samples):
        sample.prompt, sample.prompt_hash = f"retry {index}", prompt_hash(f"retry {index}")
    batch = [_job(f"ck-r{i}", samples[i * 2 : i * 2 + 2]) for i in range(3)]
    writer = StoreWriter(cast(Store, FailingOnce(store)), max_insert_rows=2)
    with pytest.raises(TransientError):
        await writer.write_results(batch)
    await writer.write_results(batch)  # redelivered
    rows = store.query("SELECT prompt FROM samples WHERE run_id = 'retry' ORDER BY sample_index")
    assert [r["prompt"] for r in rows] == [f"retry {i}" for i in range(6)]


async def test_a_batch_read_while_the_one_before_fails_does_not_lose_its_prompts(
    store: Store,
) -> None:
    """The next batch is read while the last one's final chunk is written, taking that
    chunk's prompts as known: when the chunk fails, its redelivery sends them again."""
    samples = _samples("across", 4)
    for index, sample in enumerate(samples):
        sample.prompt, sample.prompt_hash = f"across {index}", prompt_hash(f"across {index}")
    first = [_job("ck-a", samples[:2]), _job("ck-b", samples[2:])]
    writer = StoreWriter(cast(Store, FailingOnce(store)), max_insert_rows=2)
    written = await writer.start_results(first)  # its second chunk's prompts insert fails
    after = await writer.start_results([_job("ck-c", samples[2:])])
    with pytest.raises(TransientError):
        await written
    await after
    await writer.write_results(first)  # redelivered
    rows = store.query(
        "SELECT checkpoint_id, prompt FROM samples WHERE run_id = 'across' ORDER BY ALL"
    )
    assert [(r["checkpoint_id"], r["prompt"]) for r in rows] == [
        ("ck-a", "across 0"), ("ck-a", "across 1"), ("ck-b", "across 2"), ("ck-b", "across 3"),
        ("ck-c", "across 2"), ("ck-c", "across 3"),
    ]  # fmt: skip


async def test_a_restarted_sink_knows_the_prompts_already_stored(store: Store) -> None:
    """At start the sink loads the digests of the latest prompts stored: a text written
    before the restart is not sent again."""
    store.command(
        "INSERT INTO prompts (prompt_hash, prompt, inserted_at)"
        " SELECT reinterpretAsUInt128(MD5(text)), text, at FROM values("
        "'text String, at DateTime64(3)', ('old', '2020-01-01 00:00:00'),"
        " ('new 1', '2026-01-01 00:00:00'), ('new 2', '2026-01-02 00:00:00'))"
    )
    assert stored_digests(store, 2) == [prompt_hash("new 1"), prompt_hash("new 2")]
    recording = Recording(store)
    writer = StoreWriter(cast(Store, recording))
    writer.known.add(stored_digests(store, 10))
    samples = _samples("restart", 2)
    for sample, text in zip(samples, ("new 1", "old"), strict=True):
        sample.prompt, sample.prompt_hash = text, prompt_hash(text)
    await writer.write_results([_job("ck", samples)])
    assert recording.sizes["prompts"] == []
    rows = store.query("SELECT prompt FROM samples WHERE run_id = 'restart' ORDER BY sample_index")
    assert [r["prompt"] for r in rows] == ["new 1", "old"]
