"""Prompts stored once: the hash both sides compute, and the sink's memory of prompts sent."""

from __future__ import annotations

import hashlib

from kiseki.core.ids import prompt_hash
from kiseki.core.store.prompts import KnownPrompts, hash_key


def test_the_hash_is_md5_of_the_utf8_text_as_clickhouse_reads_it() -> None:
    digest = prompt_hash("### 入力:\n前提")
    assert digest == hashlib.md5("### 入力:\n前提".encode()).digest()
    assert hash_key(digest) == int.from_bytes(digest, "little")  # reinterpretAsUInt128


def test_known_prompts_keep_the_latest_capacity() -> None:
    known = KnownPrompts(2)
    known.add([b"a", b"b"])
    known.add([b"c"])
    assert [d in known for d in (b"a", b"b", b"c")] == [False, True, True]
