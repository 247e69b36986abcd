"""The conversion process as a chaos victim: the real `python -m kiseki.conversion` of a
Megatron-Core checkpoint, killed mid-conversion (SIGKILL and SIGTERM), and its parent killed
outright. What test_megatron_run.py already covers (an orchestrator task cancelled while
converting, a stand-in python that kills itself) is not repeated here.

A killed conversion fails its checkpoint naming the signal and leaves no copy under the
checkpoint's name; the next orchestrator sweeps the partial output and converts once; a parent
killed with SIGKILL takes its conversion along (setpriv's parent-death signal), so no orphan
converts a second time."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from kiseki.orchestrator.conversion import ConversionFailed, ProcessConverter
from kiseki.v1 import events_pb2 as ev
from support.frameworks import REPO, framework_fixtures
from support.polling import poll_until, poll_until_async

ITER = "iter_0000010"


def _checkpoint() -> ev.CheckpointDiscovered:
    fixtures = framework_fixtures()
    return ev.CheckpointDiscovered(
        checkpoint_id="ck-megatron",
        uri=str(fixtures / "megatron-llama-tp2" / "torch_dist" / ITER),
        format=ev.CHECKPOINT_FORMAT_MEGATRON,
        tokenizer_uri=str(fixtures / "tokenizer"),
    )


def conversion_pids(directory: Path) -> list[int]:
    """The conversion processes writing into `directory` (setpriv execs into python)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kiseki.conversion" in cmdline and any(str(directory).encode() in a for a in cmdline):
            found.append(int(proc.name))
    return found


def _started(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage() == "conversion started" for r in caplog.records)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
async def test_a_conversion_killed_mid_way_fails_by_name_and_the_next_start_converts_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, signum: signal.Signals
) -> None:
    caplog.set_level(logging.INFO, logger="kiseki.orchestrator.conversion")
    directory = tmp_path / "converted"
    first = ProcessConverter(directory, sys.executable, slots=1, timeout_s=300)
    await first.start()
    checkpoint = _checkpoint()
    converting = asyncio.create_task(first.convert(checkpoint))

    async def running() -> list[int]:
        return conversion_pids(directory)

    [pid] = await poll_until_async(running, timeout_s=60, interval_s=0.02)
    os.kill(pid, signum)
    with pytest.raises(ConversionFailed, match=f"killed by {signum.name}"):
        await converting
    assert not (directory / checkpoint.checkpoint_id).exists()  # nothing to serve

    second = ProcessConverter(directory, sys.executable, slots=1, timeout_s=300)
    await second.start()  # what the next orchestrator does first: a dead process's partial goes
    assert list(directory.iterdir()) == []
    served = await second.convert(checkpoint)
    again = await second.convert(checkpoint)  # a redelivery: the whole copy is reused
    assert served.uri == again.uri == str(directory / checkpoint.checkpoint_id)
    assert _started(caplog) == 2  # the killed one and one more, never a third
    assert sorted(p.name for p in directory.iterdir()) == [checkpoint.checkpoint_id]
    AutoModelForCausalLM.from_pretrained(served.uri)  # whole: it loads


PARENT = """
import asyncio, sys
from pathlib import Path
from kiseki.orchestrator.conversion import ProcessConverter
from kiseki.v1 import events_pb2 as ev

async def main():
    converter = ProcessConverter(Path(sys.argv[1]), sys.executable, slots=1, timeout_s=300)
    await converter.start()
    checkpoint = ev.CheckpointDiscovered()
    checkpoint.ParseFromString(bytes.fromhex(sys.argv[2]))
    await converter.convert(checkpoint)

asyncio.run(main())
"""


def test_a_parent_killed_outright_takes_its_conversion_along(tmp_path: Path) -> None:
    directory = tmp_path / "converted"
    checkpoint = _checkpoint()
    env = {**os.environ, "PYTHONPATH": str(REPO / "services")}
    message = checkpoint.SerializeToString().hex()
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(directory), message], env=env)
    try:
        [child] = poll_until(lambda: conversion_pids(directory), timeout_s=60, interval_s=0.02)
        parent.kill()  # no finally, no cancellation: only the kernel's parent-death signal
        parent.wait()
        poll_until(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), timeout_s=10)
    finally:
        parent.kill()
        parent.wait()
    assert not (directory / checkpoint.checkpoint_id).exists()
    asyncio.run(ProcessConverter(directory, sys.executable, slots=1, timeout_s=300).start())
    assert list(directory.iterdir()) == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True
