"""Weight hot-swap on the real tritonserver: a loaded model takes the next checkpoint of its
architecture in place, answers exactly as a cold load of that checkpoint, and never serves
weights that are not the checkpoint's (a refused or unproven swap unloads it; a restarted
server loads what was swapped in)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import EndpointLoadError, LocalEndpointManager
from support.model_processes import group_members, model_process
from support.polling import poll_until_async
from support.scripted_gpt import scripted_checkpoint

PROMPTS = ["問題: 3 + 4 = ?\n答え:", "吾輩は", "The quick"]
Answers = tuple[list[str], list[tuple[float, bool]]]
PAIRS = [
    ("問題: 3 + 4 = ?\n答え:", " 7"),
    ("問題: 3 + 4 = ?\n答え:", " 8"),
    ("吾輩は", "猫である。"),
]


@pytest_asyncio.fixture(loop_scope="module")
async def manager(tmp_path: Path) -> AsyncIterator[LocalEndpointManager]:
    endpoints = LocalEndpointManager(tmp_path / "endpoints")
    await endpoints.start()
    yield endpoints
    await endpoints.stop()


async def _answers(address: str, model: str) -> Answers:
    client = ScoringClient(address, model)
    try:
        texts = await client.generate(PROMPTS, max_new_tokens=12)
        scored = await client.loglikelihood(PAIRS)
        return texts, [(c.logprob, c.is_greedy) for c in scored]
    finally:
        await client.close()


async def _fingerprint(address: str, model: str) -> list[float]:
    client = ScoringClient(address, model)
    try:
        return await client.swap("")
    finally:
        await client.close()


def _same(got: Answers, want: Answers) -> None:
    texts, scored = got
    want_texts, want_scored = want
    assert texts == want_texts
    for (lp, greedy), (want_lp, want_greedy) in zip(scored, want_scored, strict=True):
        assert lp == pytest.approx(want_lp, abs=1e-4)
        assert greedy == want_greedy


@pytest.mark.asyncio(loop_scope="module")
async def test_a_swapped_endpoint_answers_as_a_cold_load_and_survives_a_restart(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    cold = await manager.load("cold", tiny_checkpoints[60])
    reference, cold_answers = (
        await _fingerprint(cold.address, "cold"),
        await _answers(cold.address, "cold"),
    )
    await manager.unload("cold")
    slot = await manager.load("slot", tiny_checkpoints[0])
    before = await _answers(slot.address, "slot")
    swapped = await manager.swap("slot", tiny_checkpoints[60], reference)
    # Same address and model name: runners need not be told; jobs name the weights it serves.
    assert (swapped.address, swapped.model_name) == (slot.address, slot.model_name)
    assert (slot.serves, swapped.serves) == (str(tiny_checkpoints[0]), str(tiny_checkpoints[60]))
    assert manager.loaded["slot"] == tiny_checkpoints[60]
    _same(await _answers(slot.address, "slot"), cold_answers)
    assert before[1] != cold_answers[1]

    server = manager._server
    assert server is not None
    os.kill(server.process.pid, signal.SIGKILL)  # the watchdog restarts it and reloads
    await poll_until_async(lambda: _ready(slot.address, "slot"), timeout_s=180)
    _same(await _answers(slot.address, "slot"), cold_answers)
    await manager.unload("slot")


async def _ready(address: str, model: str) -> bool:
    client = ScoringClient(address, model)
    try:
        return await client.ready()
    except Exception:  # the server is still coming back
        return False
    finally:
        await client.close()


async def _refused(
    manager: LocalEndpointManager, checkpoint: Path, match: str, **kw: object
) -> None:
    with pytest.raises(EndpointLoadError, match=match):
        await manager.swap("slot", checkpoint, **kw)  # type: ignore[arg-type]
    assert "slot" not in manager.loaded
    server = manager._server
    assert server is not None
    assert not await _ready(server.grpc_address, "slot")  # nothing left serving other weights


@pytest.mark.asyncio(loop_scope="module")
async def test_a_swap_that_cannot_be_proven_unloads_the_endpoint(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    other = scripted_checkpoint(tmp_path / "scripted", {"犬": "わん"})
    await manager.load("slot", tiny_checkpoints[0])
    await _refused(manager, other, "another architecture")

    # The same weights under another path: what a reload that kept the old weights looks like.
    await manager.load("slot", tiny_checkpoints[0])
    stale = shutil.copytree(tiny_checkpoints[0], tmp_path / "same-weights")
    await _refused(manager, stale, "did not change")

    await manager.load("slot", tiny_checkpoints[0])
    await _refused(
        manager, tiny_checkpoints[60], "differs from the checkpoint's", reference=[0.0, 0.0]
    )


@pytest.mark.asyncio(loop_scope="module")
async def test_a_dead_model_process_is_reloaded_and_a_dead_server_leaves_none(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    manager.probe_interval_s = 1.0
    endpoint = await manager.load("probed", tiny_checkpoints[60])
    want = await _answers(endpoint.address, "probed")
    os.kill(model_process(manager, "probed"), signal.SIGKILL)  # Triton still says READY after this

    async def answers_again() -> bool:
        try:
            return await _answers(endpoint.address, "probed") == want
        except Exception:  # "Stub process ... is not healthy" until the reload
            return False

    await poll_until_async(answers_again, timeout_s=120, interval_s=0.5)

    server = manager._server
    assert server is not None
    os.kill(server.process.pid, signal.SIGKILL)
    await poll_until_async(lambda: _ready(endpoint.address, "probed"), timeout_s=180)
    assert group_members(server.process.pid) == []  # the dead server's model processes went with it
    await manager.unload("probed")


def _held_open(checkpoint: Path, tmp_path: Path) -> Path:
    """A copy of `checkpoint` whose config.json is a FIFO: the model process that reads it
    for a swap blocks there, mid-reload, until the test lets it go."""
    held = shutil.copytree(checkpoint, tmp_path / "held")
    (held / "config.json").unlink()
    os.mkfifo(held / "config.json")
    return held


async def _reader_waiting(fifo: Path) -> int:
    """A write end of `fifo` once a reader has it open (the open fails until then)."""
    with contextlib.suppress(OSError):
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    return 0


@pytest.mark.parametrize("victim", ["model process", "tritonserver"])
@pytest.mark.asyncio(loop_scope="module")
async def test_a_swap_killed_mid_reload_leaves_nothing_serving_stale_weights(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path], victim: str, tmp_path: Path
) -> None:
    new = tiny_checkpoints[60]
    cold = await manager.load("cold", new)
    want = await _answers(cold.address, "cold")
    await manager.unload("cold")
    slot = await manager.load("slot", tiny_checkpoints[0])
    held = _held_open(new, tmp_path)
    swap = asyncio.create_task(manager.swap("slot", held))
    writer = await poll_until_async(lambda: _reader_waiting(held / "config.json"), timeout_s=60)
    server = manager._server
    assert server is not None
    os.kill(server.process.pid if victim == "tritonserver" else model_process(manager, "slot"), 9)
    try:
        with pytest.raises(EndpointLoadError):
            await swap
    finally:
        os.close(writer)
    assert "slot" not in manager.loaded
    address = manager._server.grpc_address if manager._server else slot.address
    assert not await _ready(address, "slot")  # nothing answers with the old weights
    reloaded = await manager.load("slot", new)
    _same(await _answers(reloaded.address, "slot"), want)
    await manager.unload("slot")
