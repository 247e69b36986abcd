"""Each format, with a checkpoint written the way its framework writes it: found complete with
the right step, format and tokens seen, and not before the framework's last word."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from kiseki.core.ids import checkpoint_id
from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.completeness import Incomplete, check_safetensors, index_shards
from kiseki.watcher.runs import WatchedRun
from kiseki.watcher.scanner import RunScanner
from support import checkpoints as ck

QUIET_S = 1.0


def scanner(root: Path, fmt: str = "auto", tokens_per_sample: int = 0) -> RunScanner:
    run = WatchedRun(
        "run",
        root,
        format=fmt,
        tokens_per_step=10,
        tokens_per_sample=tokens_per_sample,
        tags={"corpus": "v3"},
        marker_glob="DONE",
    )
    return RunScanner(run, quiet_period_s=QUIET_S, incomplete_timeout_s=100.0)


def settle(s: RunScanner) -> list[ev.CheckpointDiscovered]:
    """Two scans a quiet period apart: what is complete and unchanged."""
    s.scan(now=0.0)
    return s.scan(now=QUIET_S + 0.5).complete


# plan, step, configured format, format on the wire, tokens seen (10 per step unless recorded)
CASES = [
    ("hf", 100, "hf", ev.CHECKPOINT_FORMAT_HF, 1000),
    ("hf-sharded", 7, "hf", ev.CHECKPOINT_FORMAT_HF, 70),
    ("hf-trainer", 30, "hf-trainer", ev.CHECKPOINT_FORMAT_HF_TRAINER, 30_000),
    ("megatron", 2000, "megatron", ev.CHECKPOINT_FORMAT_MEGATRON, 20_000),
    ("megatron-legacy", 5, "megatron", ev.CHECKPOINT_FORMAT_MEGATRON, 50),
    ("nemo2", 500, "nemo2", ev.CHECKPOINT_FORMAT_NEMO, 5000),
    ("deepspeed", 40, "deepspeed", ev.CHECKPOINT_FORMAT_DEEPSPEED, 400),
    ("marker", 3, "marker", ev.CHECKPOINT_FORMAT_MARKER, 30),
]


@pytest.mark.parametrize(("plan", "step", "fmt", "wire_format", "tokens"), CASES)
def test_each_format_is_found_complete(
    tmp_path: Path, plan: str, step: int, fmt: str, wire_format: int, tokens: int
) -> None:
    directory = ck.write(tmp_path, ck.PLANS[plan](step, random.Random(step)))
    for configured in (fmt,) if fmt == "marker" else (fmt, "auto"):  # marker runs say so
        [message] = settle(scanner(tmp_path, configured))
        assert (message.step, message.format, message.tokens_seen) == (step, wire_format, tokens)
        assert message.uri == str(directory)
        assert message.checkpoint_id == checkpoint_id("run", step, str(directory))
        assert message.size_bytes == sum(
            p.stat().st_size for p in directory.rglob("*") if p.is_file()
        )
        assert dict(message.metadata) == {"corpus": "v3"}


@pytest.mark.parametrize(("plan", "step", "fmt"), [case[:3] for case in CASES])
def test_nothing_is_complete_before_the_frameworks_last_write(
    tmp_path: Path, plan: str, step: int, fmt: str
) -> None:
    save = ck.PLANS[plan](step, random.Random(step))
    actions = [*save.first, *save.body, *save.finish]
    for name, data in actions[:-1]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            path.unlink()
        else:
            path.write_bytes(data)
    assert settle(scanner(tmp_path, fmt)) == [], f"complete without {actions[-1][0]}"


def test_trainer_checkpoints_need_no_safetensors(tmp_path: Path) -> None:
    directory = tmp_path / "checkpoint-8"
    directory.mkdir()
    (directory / "pytorch_model.bin").write_bytes(b"\0" * 32)
    (directory / "trainer_state.json").write_text('{"global_step": 8}')
    [message] = settle(scanner(tmp_path))
    assert (message.step, message.tokens_seen) == (8, 80)


def test_trainer_state_does_not_vouch_for_a_short_safetensors(tmp_path: Path) -> None:
    directory = ck.write(tmp_path, ck.hf_trainer(8, random.Random(0)))
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1])
    assert settle(scanner(tmp_path)) == []


def test_trackers_behind_the_directory_do_not_complete_it(tmp_path: Path) -> None:
    ck.write(tmp_path, ck.megatron(2000, random.Random(0)))
    ck.write(tmp_path, ck.deepspeed(40, random.Random(0)))
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("1000")
    (tmp_path / "latest").write_text("global_step30\n")
    assert settle(scanner(tmp_path)) == []


def test_megatron_torch_dist_needs_its_metadata(tmp_path: Path) -> None:
    directory = ck.write(tmp_path, ck.megatron(10, random.Random(0)))
    (directory / ".metadata").unlink()
    assert settle(scanner(tmp_path)) == []


def test_nemo_last_copy_is_not_a_second_checkpoint(tmp_path: Path) -> None:
    directory = ck.write(tmp_path, ck.nemo2(500, random.Random(0)))
    shutil.copytree(directory, tmp_path / f"{directory.name}-last")
    [message] = settle(scanner(tmp_path))
    assert message.uri == str(directory)


def test_nemo_tokens_from_consumed_samples(tmp_path: Path) -> None:
    ck.write(tmp_path, ck.nemo2(500, random.Random(0)))  # consumed_samples=4000.0
    [message] = settle(scanner(tmp_path, tokens_per_sample=2048))
    assert message.tokens_seen == 4000 * 2048


@pytest.mark.parametrize("cut", [1, 9, 40, 100])
def test_a_safetensors_cut_short_is_incomplete(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "w.safetensors"
    data = ck.safetensors_bytes()
    path.write_bytes(data[: len(data) - cut])
    with pytest.raises(Incomplete):
        check_safetensors(path)


def test_safetensors_oddities_are_incomplete_and_never_block(tmp_path: Path) -> None:
    longer = tmp_path / "longer.safetensors"
    longer.write_bytes(ck.safetensors_bytes() + b"\0")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\xff" * 64)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for path, reason in [
        (longer, "more than its header"),
        (garbage, "past the end"),
        (fifo, "not a regular file"),
    ]:
        with pytest.raises(Incomplete, match=reason):
            check_safetensors(path)


def test_an_index_may_not_name_shards_outside_its_directory(tmp_path: Path) -> None:
    index = tmp_path / "model.safetensors.index.json"
    for shard in ("../other/model.safetensors", "/etc/passwd"):
        index.write_text(json.dumps({"weight_map": {"w": shard}}))
        with pytest.raises(Incomplete, match="outside its directory"):
            index_shards(index)


def test_a_corrupt_index_is_reported_stuck_with_its_reason(tmp_path: Path) -> None:
    directory = ck.write(tmp_path, ck.hf(5, random.Random(0), shards=2))
    (directory / "model.safetensors.index.json").write_text('{"weight_map": ["not", "a", "map"]}')
    s = scanner(tmp_path)
    assert s.scan(now=0.0).stuck == []
    [stuck] = s.scan(now=101.0).stuck
    assert (stuck.step, stuck.checkpoint_id) == (5, checkpoint_id("run", 5, str(directory)))
    assert "no weight_map" in stuck.reason
