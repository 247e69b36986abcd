"""The Triton model kiseki ships, served by the real tritonserver, equals in-process HF."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import tritonclient.grpc.aio as triton_aio
from transformers import AutoModelForCausalLM
from tritonclient.utils import InferenceServerException

from kiseki.orchestrator.deployer import LocalTritonDeployer
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import EndpointLoadError, LocalEndpointManager
from kiseki.serving.hf_scoring import HFScorer
from kiseki.v1 import events_pb2 as ev
from support.polling import poll_until_async

PROMPTS = ["問題: 3 + 4 = ?\n答え:", "吾輩は", "The quick", "問題: 12 + 7 = ?\n答え: 1"]
PAIRS = [
    ("問題: 3 + 4 = ?\n答え:", " 7"),
    ("問題: 3 + 4 = ?\n答え:", " 8"),
    ("吾輩は", "猫である。"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def manager(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalEndpointManager]:
    endpoints = LocalEndpointManager(tmp_path_factory.mktemp("endpoints"))
    await endpoints.start()
    yield endpoints
    await endpoints.stop()


async def _scores(address: str, model: str) -> tuple[list[str], list[tuple[float, bool]]]:
    client = ScoringClient(address, model)
    try:
        texts = await client.generate(PROMPTS, max_new_tokens=12)
        continuations = await client.loglikelihood(PAIRS)
    finally:
        await client.close()
    return texts, [(c.logprob, c.is_greedy) for c in continuations]


def _in_process(checkpoint: Path) -> tuple[list[str], list[tuple[float, bool]]]:
    """The reference: one item at a time, no padding, no batching."""
    scorer = HFScorer(checkpoint, device="cpu")
    texts = [scorer.generate([prompt], 12)[0] for prompt in PROMPTS]
    continuations = [scorer.loglikelihood([pair])[0] for pair in PAIRS]
    return texts, [(c.logprob, c.is_greedy) for c in continuations]


@pytest.mark.asyncio(loop_scope="module")
async def test_two_checkpoints_score_as_in_process(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    first_pair_logprob = {}
    for step, checkpoint in tiny_checkpoints.items():
        endpoint = await manager.load(f"tiny-s{step}", checkpoint)
        served_texts, served_ll = await _scores(endpoint.address, endpoint.model_name)
        first_pair_logprob[step] = served_ll[0][0]
        local_texts, local_ll = _in_process(checkpoint)
        assert served_texts == local_texts
        for (served_lp, served_greedy), (local_lp, local_greedy) in zip(
            served_ll, local_ll, strict=True
        ):
            assert served_lp == pytest.approx(local_lp, abs=1e-4)
            assert served_greedy == local_greedy
    assert first_pair_logprob[0] < first_pair_logprob[60]  # training raised log p(" 7" | 3 + 4)
    for step in tiny_checkpoints:
        await manager.unload(f"tiny-s{step}")


@pytest.mark.asyncio(loop_scope="module")
async def test_swap_unloads_one_and_keeps_the_other(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    first = await manager.load("swap-a", tiny_checkpoints[0])
    second, again = await asyncio.gather(
        manager.load("swap-b", tiny_checkpoints[60]), manager.load("swap-b", tiny_checkpoints[60])
    )
    assert second == again
    await manager.unload("swap-a")
    client = ScoringClient(first.address, "swap-a")
    try:
        assert not await client.ready()
    finally:
        await client.close()
    assert "swap-a" not in manager.loaded
    texts, _ = await _scores(second.address, "swap-b")
    assert len(texts) == len(PROMPTS)
    await manager.unload("swap-b")


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _sharded(source: Path, target: Path) -> Path:
    """The same weights saved the way large models are: an index and several shards."""
    model = AutoModelForCausalLM.from_pretrained(source)
    model.save_pretrained(target, max_shard_size="60KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, target / name)
    assert (target / "model.safetensors.index.json").exists()
    return target


def _truncate_weights(path: Path) -> str:
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return "model.safetensors"


def _drop_a_shard(path: Path) -> str:
    shard = sorted(path.glob("model-*.safetensors"))[-1]
    shard.unlink()
    return shard.name


def _break_config(path: Path) -> str:
    (path / "config.json").write_text('{"model_type": "gpt2", "n_embd": "wide"')
    return "config.json"


@pytest.mark.asyncio(loop_scope="module")
async def test_sharded_checkpoint_scores_like_the_single_file(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    sharded = _sharded(tiny_checkpoints[60], tmp_path / "sharded")
    single = await manager.load("single", tiny_checkpoints[60])
    split = await manager.load("sharded", sharded)
    single_scores = await _scores(single.address, single.model_name)
    sharded_scores = await _scores(split.address, split.model_name)
    assert sharded_scores[0] == single_scores[0]
    assert [lp for lp, _ in sharded_scores[1]] == pytest.approx([lp for lp, _ in single_scores[1]])
    await manager.unload("sharded")
    await manager.unload("single")


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("damage", [_truncate_weights, _drop_a_shard, _break_config])
async def test_broken_checkpoint_fails_its_load_and_others_keep_serving(
    manager: LocalEndpointManager,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
    damage: Callable[[Path], str],
) -> None:
    good = await manager.load("healthy", tiny_checkpoints[60])
    if damage is _drop_a_shard:
        broken = _sharded(tiny_checkpoints[60], tmp_path / "broken")
    else:
        broken = _copy(tiny_checkpoints[60], tmp_path / "broken")
    damage(broken)
    with pytest.raises(EndpointLoadError, match="cannot load broken-model") as failure:
        await manager.load("broken-model", broken)
    assert str(broken) in str(failure.value)  # the reason names the checkpoint
    assert "broken-model" not in manager.loaded
    texts, _ = await _scores(good.address, good.model_name)
    assert len(texts) == len(PROMPTS)
    await manager.unload("healthy")


@pytest.mark.asyncio(loop_scope="module")
async def test_mixed_concurrent_requests_and_a_bad_one(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    endpoint = await manager.load("mixed", tiny_checkpoints[60])
    client = ScoringClient(endpoint.address, "mixed", items_per_request=2, max_in_flight=8)
    try:
        texts, continuations = await asyncio.gather(
            client.generate(PROMPTS * 3, 8), client.loglikelihood(PAIRS * 3)
        )
        assert len(texts) == 3 * len(PROMPTS)
        assert texts[: len(PROMPTS)] == texts[len(PROMPTS) : 2 * len(PROMPTS)]
        assert [c.logprob for c in continuations[:3]] == pytest.approx(
            [c.logprob for c in continuations[3:6]]
        )
        with pytest.raises(InferenceServerException, match="empty continuation"):
            await client.loglikelihood([("context", "")])
        assert len(await client.generate(PROMPTS, 4)) == len(PROMPTS)  # still serving
    finally:
        await client.close()
        await manager.unload("mixed")


@pytest.mark.asyncio(loop_scope="module")
async def test_a_dead_server_is_restarted_with_its_models(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    endpoint = await manager.load("survivor", tiny_checkpoints[60])
    server = manager._server
    assert server is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process._proc.wait()

    async def serving_again() -> bool:  # no manager call: the watchdog restarts it
        try:
            async with triton_aio.InferenceServerClient(endpoint.address) as client:
                return bool(await client.is_model_ready("survivor"))
        except InferenceServerException:
            return False

    await poll_until_async(serving_again, timeout_s=180, interval_s=0.5)
    assert manager._server is not server
    texts, _ = await _scores(endpoint.address, "survivor")
    assert len(texts) == len(PROMPTS)


@pytest.mark.asyncio(loop_scope="module")
async def test_prompts_longer_than_the_context_lose_their_oldest_tokens(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    """The tiny GPT has 512 positions; a 4-shot prompt can be far longer."""
    long_prompt = "".join(f"問題: {a} + 1 = ?\n答え: {a + 1}\n\n" for a in range(200)) + PROMPTS[0]
    endpoint = await manager.load("long", tiny_checkpoints[60])
    client = ScoringClient(endpoint.address, "long")
    try:
        [served_text] = await client.generate([long_prompt], max_new_tokens=12)
        [served] = await client.loglikelihood([(long_prompt, " 7")])
    finally:
        await client.close()
        await manager.unload("long")
    scorer = HFScorer(tiny_checkpoints[60], device="cpu")
    assert scorer.max_positions == 512
    assert len(scorer.tokenizer.encode(long_prompt)) > 512
    assert served_text == scorer.generate([long_prompt], 12)[0]
    [local] = scorer.loglikelihood([(long_prompt, " 7")])
    assert served.logprob == pytest.approx(local.logprob, abs=1e-4)
    assert served.logprob > -50.0  # a real probability, not a padding artefact


async def test_a_load_while_the_server_stops_waits_for_its_restart(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    server = manager._server
    assert server is not None
    loading = asyncio.create_task(manager.load("during-stop", tiny_checkpoints[0]))
    await poll_until_async(
        lambda: _exists(manager.repository / "during-stop" / "config.pbtxt"), timeout_s=30
    )
    os.killpg(server.process.pid, signal.SIGTERM)  # stopping: it refuses loads, then exits
    endpoint = await asyncio.wait_for(loading, 300)
    assert manager._server is not server
    texts, _ = await _scores(endpoint.address, "during-stop")
    assert len(texts) == len(PROMPTS)
    await manager.unload("during-stop")


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)


def _servers_under(directory: Path) -> list[int]:
    """Pids of tritonserver processes whose command line names `directory`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"tritonserver" in command and str(directory).encode() in command:
            pids.append(int(entry.name))
    return pids


@pytest.mark.asyncio(loop_scope="module")
async def test_stopping_while_the_watchdog_restarts_the_server_leaves_none(
    tmp_path: Path,
) -> None:
    """A SIGTERM can come while the watchdog starts a new server: that one stops too."""
    manager = LocalEndpointManager(tmp_path)
    manager.watch_interval_s = 0.1
    await manager.start()
    server = manager._server
    assert server is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process._proc.wait()

    async def restarting() -> bool:  # a new server process, not ready yet
        return bool(_servers_under(tmp_path)) and not manager._server.process.alive()  # type: ignore[union-attr]

    await poll_until_async(restarting, timeout_s=30, interval_s=0.02)
    await manager.stop()
    assert _servers_under(tmp_path) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_the_local_deployer_serves_a_run_with_its_own_dtype(
    manager: LocalEndpointManager, tiny_checkpoints: dict[int, Path]
) -> None:
    """A run's serving.dtype reaches its Triton model; the manager's default stays float32."""
    checkpoint = ev.CheckpointDiscovered(
        checkpoint_id="run-dtype", run_id="r", uri=str(tiny_checkpoints[60]),
        format=ev.CHECKPOINT_FORMAT_HF,
    )  # fmt: skip
    deployer = LocalTritonDeployer(manager)
    endpoint = await deployer.deploy(checkpoint, ServingResources(backend="hf", dtype="bfloat16"))
    assert (endpoint.backend, endpoint.dtype) == ("hf", "bfloat16")
    config = (manager.repository / "run-dtype" / "config.pbtxt").read_text()
    assert 'key: "dtype"\n  value {\n    string_value: "bfloat16"' in config
    texts, _ = await _scores(endpoint.address, endpoint.model_name)
    assert len(texts) == len(PROMPTS)
    assert manager.options.dtype == "float32"
    await deployer.teardown("run-dtype")
