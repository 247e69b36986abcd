"""Prompts stored once: the hash both sides compute, and the sink's memory of prompts sent."""

from __future__ import annotations

import hashlib

from kiseki.core.ids import prompt_hash
from kiseki.core.store.prompts import KnownPrompts, hash_key, split_prompts
from kiseki.v1 import events_pb2 as ev


def test_the_hash_is_md5_of_the_utf8_text_as_clickhouse_reads_it() -> None:
    digest = prompt_hash("### 入力:\n前提")
    assert digest == hashlib.md5("### 入力:\n前提".encode()).digest()
    assert hash_key(digest) == int.from_bytes(digest, "little")  # reinterpretAsUInt128


def test_known_prompts_keep_the_latest_capacity() -> None:
    known = KnownPrompts(2)
    known.add([b"a", b"b"])
    known.add([b"c"])
    assert [d in known for d in (b"a", b"b", b"c")] == [False, True, True]


def test_a_prompt_is_new_once_per_chunk_and_a_wrong_hash_is_replaced() -> None:
    known = KnownPrompts(10)
    known.add([prompt_hash("seen")])
    samples = [
        ev.SampleResult(prompt="seen", prompt_hash=prompt_hash("seen")),
        ev.SampleResult(prompt="new", prompt_hash=prompt_hash("new")),
        ev.SampleResult(prompt="new", prompt_hash=prompt_hash("new")),
        ev.SampleResult(prompt="old runner"),
        ev.SampleResult(prompt="lied", prompt_hash=prompt_hash("other")),
    ]
    new: dict[bytes, str] = {}
    keys = split_prompts(samples, known, new)
    assert keys == [hash_key(prompt_hash(s.prompt)) for s in samples]
    assert new == {prompt_hash(t): t for t in ("new", "old runner", "lied")}
