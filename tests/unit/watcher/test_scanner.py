"""The scanner over time: quiet period, one identity per checkpoint, stuck checkpoints,
links, unreadable places, and what a restarted scanner skips. Time is the scan's `now`."""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from kiseki.v1 import events_pb2 as ev
from kiseki.watcher.formats import FORMATS
from kiseki.watcher.runs import WatchedRun
from kiseki.watcher.scanner import RunScanner
from support import checkpoints as ck

QUIET_S, TIMEOUT_S = 1.0, 100.0


def scanner(root: Path, published: dict[str, int] | None = None) -> RunScanner:
    return RunScanner(WatchedRun("run", root), QUIET_S, TIMEOUT_S, published)


def trainer(root: Path, step: int) -> Path:
    return ck.write(root, ck.hf_trainer(step, random.Random(step)))


def publish(s: RunScanner, now: float) -> list[ev.CheckpointDiscovered]:
    """One poll of the loop: scan, then mark what it found as sent."""
    complete = s.scan(now).complete
    for message in complete:
        s.mark_published(message)
    return complete


def test_published_after_a_quiet_period_and_only_once(tmp_path: Path) -> None:
    s = scanner(tmp_path)
    directory = trainer(tmp_path, 1)
    assert publish(s, 0.0) == []  # first sight
    assert publish(s, 0.9) == []  # not quiet long enough
    (directory / "optimizer.pt").write_bytes(b"more")  # a late write restarts the period
    assert publish(s, 1.5) == []
    assert publish(s, 2.0) == []
    [message] = publish(s, 2.6)
    assert message.step == 1
    assert publish(s, 10.0) == []


def test_a_restarted_scanner_skips_what_was_published(tmp_path: Path) -> None:
    first = scanner(tmp_path)
    for step in (1, 2):
        trainer(tmp_path, step)
    publish(first, 0.0)
    published = {Path(m.uri).name: m.step for m in publish(first, 2.0)}
    assert published == {"checkpoint-1": 1, "checkpoint-2": 2}
    restarted = scanner(tmp_path, published)
    trainer(tmp_path, 3)
    assert publish(restarted, 0.0) == []
    assert [m.step for m in publish(restarted, 2.0)] == [3]


def test_one_step_under_two_names_is_published_once(tmp_path: Path) -> None:
    s = scanner(tmp_path)
    ck.write(tmp_path, ck.hf(7, random.Random(0), name="step_{}"))
    ck.write(tmp_path, ck.hf(7, random.Random(0), name="ckpt_{}"))  # same scan
    publish(s, 0.0)
    [message] = publish(s, 2.0)
    assert Path(message.uri).name == "ckpt_7"
    ck.write(tmp_path, ck.hf(7, random.Random(0), name="iter_{}"))  # a later scan
    assert publish(s, 3.0) + publish(s, 5.0) == []


def test_a_stuck_checkpoint_is_reported_once_and_published_if_it_completes(
    tmp_path: Path,
) -> None:
    s = scanner(tmp_path)
    save = ck.hf_trainer(9, random.Random(0))
    ck.write(tmp_path, ck.Plan(save.directory, save.body))  # no trainer_state.json yet
    assert s.scan(0.0).stuck == []
    assert s.scan(TIMEOUT_S).stuck == []
    [stuck] = s.scan(TIMEOUT_S + 1).stuck
    assert stuck.step == 9
    assert "trainer_state.json not written yet" in stuck.reason
    assert s.scan(TIMEOUT_S + 2).stuck == [stuck]  # not sent yet (broker down): again
    s.mark_reported(stuck)
    assert s.scan(TIMEOUT_S + 3).stuck == []
    ck.write(tmp_path, ck.Plan(save.directory, [], save.finish))
    publish(s, 200.0)
    [message] = publish(s, 202.0)
    assert message.checkpoint_id == stuck.checkpoint_id


def test_links_never_lead_out_of_the_run_root(tmp_path: Path) -> None:
    root = tmp_path / "run"
    root.mkdir()
    outside = trainer(tmp_path / "elsewhere", 9)
    (root / "checkpoint-9").symlink_to(outside)  # leads out
    inside = trainer(root, 10)
    (root / "checkpoint-11").symlink_to(inside)  # an alias: a second name for step 10
    (root / "checkpoint-12").symlink_to(root / "checkpoint-12")  # a loop
    escaping = trainer(root, 13)
    (escaping / "optimizer.pt").unlink()
    (escaping / "optimizer.pt").symlink_to(outside / "optimizer.pt")
    s = scanner(root)
    publish(s, 0.0)
    assert [m.step for m in publish(s, 2.0)] == [10]
    [stuck] = s.scan(TIMEOUT_S + 1).stuck
    assert stuck.step == 13
    assert stuck.reason.endswith("optimizer.pt links outside the run root")


def test_an_unreadable_root_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = scanner(tmp_path / "not-mounted-yet")
    with caplog.at_level(logging.WARNING):
        for now in (0.0, 1.0, 2.0):
            assert publish(s, now) == []
    assert [r.getMessage() for r in caplog.records] == ["cannot list the run root"]
    trainer(tmp_path / "not-mounted-yet", 1)  # mounted: found from then on
    publish(s, 3.0)
    assert [m.step for m in publish(s, 5.0)] == [1]


def test_a_permission_error_fails_one_checkpoint_not_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # These tests run as root, for whom chmod denies nothing: the denial comes from the OS call.
    denied = trainer(tmp_path, 1)
    trainer(tmp_path, 2)
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path) == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    s = scanner(tmp_path)
    publish(s, 0.0)
    assert [m.step for m in publish(s, 2.0)] == [2]
    [stuck] = s.scan(TIMEOUT_S + 1).stuck
    assert stuck.step == 1
    assert "Permission denied" in stuck.reason


def test_a_checkpoint_deleted_before_completing_is_forgotten(tmp_path: Path) -> None:
    s = scanner(tmp_path)
    save = ck.hf_trainer(4, random.Random(0))
    directory = ck.write(tmp_path, ck.Plan(save.directory, save.body))
    s.scan(0.0)
    shutil.rmtree(directory)  # rotated away (save_total_limit) before it completed
    assert s.scan(TIMEOUT_S + 1).stuck == []
    ck.write(tmp_path, save)
    publish(s, TIMEOUT_S + 2)
    [message] = publish(s, TIMEOUT_S + 4)
    assert message.step == 4


def test_a_failing_rule_is_logged_once_and_spares_the_other_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(directory: Path, run: WatchedRun) -> int | None:
        raise ValueError("a bug in a rule")

    monkeypatch.setitem(FORMATS, "deepspeed", replace(FORMATS["deepspeed"], check=broken))
    ck.write(tmp_path, ck.deepspeed(40, random.Random(0)))
    trainer(tmp_path, 1)
    s = scanner(tmp_path)
    with caplog.at_level(logging.WARNING):
        publish(s, 0.0)
        assert [m.step for m in publish(s, 2.0)] == [1]
    assert [r.getMessage() for r in caplog.records] == ["checking a checkpoint failed"]
    [stuck] = s.scan(TIMEOUT_S + 1).stuck
    assert stuck.reason.endswith("ValueError: a bug in a rule")


def test_a_megatron_checkpoint_carries_the_runs_tokenizer(tmp_path: Path) -> None:
    run = WatchedRun("run", tmp_path, "megatron", tokenizer=tmp_path / "tokenizer")
    s = RunScanner(run, QUIET_S, TIMEOUT_S, None)
    ck.write(tmp_path, ck.megatron(100, random.Random(1)))
    publish(s, 0.0)
    [message] = publish(s, 2.0)
    assert message.format == ev.CHECKPOINT_FORMAT_MEGATRON
    assert message.tokenizer_uri == str(tmp_path / "tokenizer")
