"""Deterministic identities: the same inputs always give the same id, in every process.

Redelivered or re-published messages carry the same ids, so storage keyed on them stays
idempotent. Ids are readable prefixes plus a short digest of every identifying field.
"""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _digest(*parts: object) -> str:
    # A unit separator cannot occur in run ids, paths or dataset names typed by people.
    payload = "\x1f".join(str(part) for part in parts).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def _slug(text: str, limit: int = 40) -> str:
    return _UNSAFE.sub("-", text).strip("-")[:limit] or "x"


def checkpoint_id(run_id: str, step: int, uri: str) -> str:
    """Id of a checkpoint: the run, the step and where it lives."""
    return f"{_slug(run_id)}-s{step}-{_digest('checkpoint', run_id, step, uri)}"


def job_id(checkpoint: str, dataset: str, shard_index: int, shard_count: int, mode: int) -> str:
    """Id of one evaluation job: checkpoint × dataset × shard × scoring mode."""
    digest = _digest("job", checkpoint, dataset, shard_index, shard_count, mode)
    return f"{_slug(dataset, 24)}-{shard_index}of{shard_count}-m{mode}-{digest}"


def prompt_hash(prompt: str) -> bytes:
    """SampleResult.prompt_hash: MD5 of the prompt's UTF-8 bytes, ClickHouse's MD5(prompt),
    the key under which the store keeps the prompt's text once."""
    return hashlib.md5(prompt.encode(), usedforsecurity=False).digest()
