"""Fuzzed writers: every format's save in random orders, random sizes, random pieces, with
pauses shorter and longer than the quiet period. Nothing may be published before the save's
last piece, and the checkpoint must be published, once, a quiet period after it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.runs import WatchedRun
from kiseki.watcher.scanner import RunScanner
from support import checkpoints as ck

QUIET_S = 1.0
POLL_S = 0.3 * QUIET_S
SEEDS = range(20)
FORMATS = {  # plan → configured format ("auto" where the names tell)
    "hf": "auto",
    "hf-sharded": "hf",
    "hf-trainer": "auto",
    "megatron": "auto",
    "megatron-legacy": "megatron",
    "nemo2": "auto",
    "deepspeed": "auto",
    "marker": "marker",
}


def _pause(rng: random.Random) -> float:
    """Mostly brisk writing; now and then a stall longer than the quiet period."""
    return rng.uniform(0.0, 0.5 * QUIET_S) if rng.random() < 0.7 else rng.uniform(1, 3) * QUIET_S


@pytest.mark.parametrize("plan", sorted(FORMATS))
@pytest.mark.parametrize("seed", SEEDS)
def test_published_exactly_once_and_never_before_complete(
    tmp_path: Path, plan: str, seed: int
) -> None:
    rng = random.Random(seed)
    steps = sorted(rng.sample(range(1, 10_000), k=2))
    run = WatchedRun("run", tmp_path, format=FORMATS[plan], marker_glob="DONE")
    scanner = RunScanner(run, quiet_period_s=QUIET_S, incomplete_timeout_s=1e9)
    published: list[ev.CheckpointDiscovered] = []
    now = 0.0
    for step in steps:  # one save after the other, as a training run makes them
        save = ck.PLANS[plan](step, rng)
        early: list[tuple[str, int]] = []
        for piece, complete in ck.write_in_pieces(tmp_path, save, rng):
            pause_ends = now + _pause(rng)
            while now < pause_ends:  # the watcher keeps polling while the writer stalls
                now = min(now + POLL_S, pause_ends)
                found = scanner.scan(now).complete
                if not complete:
                    early.extend((piece, m.step) for m in found if m.step == step)
                for message in found:
                    scanner.mark_published(message)
                published.extend(found)
        assert early == [], f"{save.directory} published before it was complete"
        for _ in range(3):
            now += QUIET_S
            for message in scanner.scan(now).complete:
                scanner.mark_published(message)
                published.append(message)
        assert [m.step for m in published] == steps[: steps.index(step) + 1]
    assert len({m.checkpoint_id for m in published}) == len(steps)
