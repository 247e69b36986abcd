"""Warm reuse on the real tritonserver: the next checkpoint of a run takes over the finished
one's model by a weight swap instead of a cold load; the model then refuses jobs that expect
the previous checkpoint; idle models never outnumber the budget nor outstay `warm_idle_s`."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from tritonclient.utils import InferenceServerException

from kiseki.orchestrator.deployer import LocalTritonDeployer
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import Endpoint, LocalEndpointManager
from support.messages import discovered
from support.polling import poll_until_async

pytestmark = pytest.mark.asyncio(loop_scope="module")


def deploys(how: str) -> float:
    return REGISTRY.get_sample_value("kiseki_endpoint_deploys_total", {"how": how}) or 0.0


@pytest_asyncio.fixture(loop_scope="module")
async def deployer(tmp_path: Path) -> AsyncIterator[LocalTritonDeployer]:
    warm = LocalTritonDeployer(LocalEndpointManager(tmp_path / "endpoints"), warm_idle_s=600)
    await warm.start()
    yield warm
    await warm.close()


async def _generate(endpoint: Endpoint, expect: str) -> list[str]:
    client = ScoringClient(endpoint.address, endpoint.model_name, expect=expect)
    try:
        return await client.generate(["吾輩は", "The quick"], 4)
    finally:
        await client.close()


async def test_the_next_checkpoint_takes_over_the_warm_model_and_refuses_stale_jobs(
    deployer: LocalTritonDeployer, tiny_checkpoints: dict[int, Path]
) -> None:
    first = discovered("run", 0, tiny_checkpoints[0])
    second = discovered("run", 60, tiny_checkpoints[60])
    cold, swaps = deploys("cold"), deploys("swap")
    a = await deployer.deploy(first)
    assert a.serves == str(tiny_checkpoints[0])
    await deployer.teardown(first.checkpoint_id, keep_warm=True)
    assert a.model_name in deployer.manager.loaded  # kept for the next one

    b = await deployer.deploy(second)
    assert (b.address, b.model_name, b.serves) == (a.address, a.model_name, second.uri)
    assert (deploys("cold") - cold, deploys("swap") - swaps) == (1, 1)
    with pytest.raises(InferenceServerException, match="serves another checkpoint"):
        await _generate(b, expect=first.uri)  # a redelivered job of the first checkpoint
    assert len(await _generate(b, expect=second.uri)) == 2

    # The first checkpoint asked for again while its old model serves the second: a model
    # of its own, under another name.
    again = await deployer.deploy(first)
    assert again.model_name != b.model_name
    assert again.serves == first.uri
    assert len(await _generate(again, expect=first.uri)) == 2
    await deployer.teardown(first.checkpoint_id)
    await deployer.teardown(second.checkpoint_id)  # nothing of the run waits: unloaded
    assert deployer.manager.loaded == {}


async def test_idle_models_go_at_a_cold_load_and_after_warm_idle_s(
    deployer: LocalTritonDeployer, tiny_checkpoints: dict[int, Path]
) -> None:
    first = discovered("run", 0, tiny_checkpoints[0])
    second = discovered("run", 60, tiny_checkpoints[60])
    a = await deployer.deploy(first)
    await deployer.teardown(first.checkpoint_id, keep_warm=True)
    swaps = deploys("swap")
    # Another dtype cannot take over the warm model: it is unloaded before the cold load.
    b = await deployer.deploy(second, ServingResources(dtype="bfloat16"))
    assert deploys("swap") == swaps
    assert deployer.manager.loaded == {b.model_name: tiny_checkpoints[60]}
    assert a.model_name != b.model_name

    deployer.warm.idle_s = 0.5
    await deployer.teardown(second.checkpoint_id, keep_warm=True)
    assert b.model_name in deployer.manager.loaded

    async def unloaded() -> bool:
        return deployer.manager.loaded == {}

    await poll_until_async(unloaded, timeout_s=30, interval_s=0.2)


async def test_a_checkpoint_of_the_same_weights_takes_the_warm_model_without_a_swap(
    deployer: LocalTritonDeployer, tiny_checkpoints: dict[int, Path], tmp_path: Path
) -> None:
    """A swap to the same weights leaves the fingerprint unchanged (read as a stale reload:
    the model unloaded, then a cold load); the same weights are served as they are."""
    first = discovered("run", 60, tiny_checkpoints[60])
    copy = tmp_path / "checkpoint-61"
    shutil.copytree(tiny_checkpoints[60], copy)
    same = discovered("run", 61, copy)
    a = await deployer.deploy(first)
    await deployer.teardown(first.checkpoint_id, keep_warm=True)
    before = [deploys(how) for how in ("cold", "swap", "reuse")]

    b = await deployer.deploy(same)
    assert (b.address, b.model_name, b.serves) == (a.address, a.model_name, a.serves)
    after = [deploys(how) for how in ("cold", "swap", "reuse")]
    assert [n - m for n, m in zip(after, before, strict=True)] == [0, 0, 1]
    assert len(await _generate(b, expect=b.serves)) == 2
    await deployer.teardown(same.checkpoint_id)
    assert deployer.manager.loaded == {}
