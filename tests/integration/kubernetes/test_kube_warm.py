"""Warm reuse on Kubernetes, on the real API server: the run's next checkpoint takes over the
finished one's Deployment by a weight swap in the pod's tritonserver, the objects are
relabelled (a restarted orchestrator adopts them under it), a stale job is refused, a failed
swap deploys cold, and nothing is left after the run.

No kubelet runs here: the test plays the pod. It runs the init container's own command (the
model repository the pod would get) and serves that repository with a real tritonserver,
reached through KISEKI_K8S_ENDPOINT_ADDRESS; the Deployment is made available through its
status subresource, as a controller would.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tritonclient.grpc.aio as triton_aio
from kubernetes import client as k8s
from prometheus_client import REGISTRY
from tritonclient.utils import InferenceServerException

from kiseki.local.triton import LocalTriton, start_triton
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_deployer import KubernetesDeployer
from kiseki.orchestrator.kube_objects import (
    CHECKPOINT_LABEL,
    IDLE_ANNOTATION,
    SERVES_ANNOTATION,
    object_name,
)
from kiseki.serving.client import ScoringClient
from kiseki.serving.endpoints import Endpoint
from kiseki.serving.hf_scoring import HFScorer
from kiseki.v1 import events_pb2 as ev
from support.chart import install_rbac
from support.kube import ControlPlane
from support.messages import discovered
from support.polling import poll_until_async

RUN = "tiny"
PAIRS = [("吾輩は", "猫である。"), ("The quick brown", " fox")]


def deploys(how: str) -> float:
    return REGISTRY.get_sample_value("kiseki_endpoint_deploys_total", {"how": how}) or 0.0


@pytest.fixture(scope="module")
def run_volume(tiny_checkpoints: dict[int, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's checkpoint volume as the pods mount it: its checkpoints under one root."""
    root = tmp_path_factory.mktemp("checkpoint-volume")
    for step, path in tiny_checkpoints.items():
        shutil.copytree(path, root / RUN / f"checkpoint-{step}")
    return root


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory, service_logs: Path) -> Iterator[LocalTriton]:
    """The pods' tritonserver: models are loaded as each pod's init container writes them."""
    repository = tmp_path_factory.mktemp("warm-model-repository")
    server = start_triton(service_logs / "k8s-warm-triton", repository)
    yield server
    server.stop()


def _checkpoint(volume: Path, step: int) -> ev.CheckpointDiscovered:
    return discovered(RUN, step, volume / RUN / f"checkpoint-{step}")


async def _play_pod(apps: k8s.AppsV1Api, namespace: str, name: str, triton: LocalTriton) -> None:
    """What the kubelet and the Deployment controller would do for the Deployment `name`."""

    async def created() -> Any:
        found: Any = await asyncio.to_thread(apps.list_namespaced_deployment, namespace)
        return next((d for d in found.items if d.metadata.name == name), None)

    deployment = await poll_until_async(created, timeout_s=10)
    (init,) = deployment.spec.template.spec.init_containers
    command = [sys.executable, *init.command[1:]]
    command[command.index("--out") + 1] = str(triton.model_repository)
    await asyncio.to_thread(subprocess.run, command, check=True, capture_output=True)
    model = command[command.index("--name") + 1]
    async with triton_aio.InferenceServerClient(triton.grpc_address) as client:
        await client.load_model(model)
    _report_available(apps, namespace, name)


def _report_available(apps: k8s.AppsV1Api, namespace: str, name: str) -> None:
    """The Deployment controller's status for the current generation (a relabel bumps it;
    the pod template is unchanged, so nothing rolls)."""
    deployment: Any = apps.read_namespaced_deployment(name, namespace)
    apps.patch_namespaced_deployment_status(
        name,
        namespace,
        {"status": {"observedGeneration": deployment.metadata.generation, "replicas": 1,
                    "readyReplicas": 1, "availableReplicas": 1}},
    )  # fmt: skip


async def _loglikelihoods(endpoint: Endpoint, expect: str) -> list[float]:
    client = ScoringClient(endpoint.address, endpoint.model_name, expect=expect)
    try:
        return [c.logprob for c in await client.loglikelihood(PAIRS)]
    finally:
        await client.close()


def _setup(
    kube: ControlPlane, namespace: str, triton: LocalTriton, volume: Path
) -> tuple[KubernetesConfig, k8s.ApiClient]:
    settings = KubernetesConfig(
        namespace=namespace,
        serving_image="registry.example.com/kiseki-triton:test",
        repository_image="registry.example.com/kiseki:test",
        checkpoint_claim="checkpoints",
        checkpoint_mount=str(volume),
        gpus=0,
        endpoint_address=triton.grpc_address,
        poll_s=0.05,
        ready_timeout_s=60.0,
    )
    install_rbac(kube, namespace, [])
    token = kube.service_account_token(namespace, "kiseki-orchestrator")
    return settings, kube.with_token(token)


async def test_the_next_checkpoint_takes_over_the_deployment_by_a_swap(
    kube: ControlPlane, namespace: str, triton: LocalTriton, run_volume: Path
) -> None:
    first, second = _checkpoint(run_volume, 0), _checkpoint(run_volume, 60)
    name = object_name(first.checkpoint_id)
    settings, orchestrator_api = _setup(kube, namespace, triton, run_volume)
    with kube.admin() as admin_api, orchestrator_api as api:
        apps = k8s.AppsV1Api(admin_api)
        deployer = KubernetesDeployer(api, settings, warm_idle_s=600)
        await deployer.start()
        task = asyncio.create_task(deployer.deploy(first))
        await _play_pod(apps, namespace, name, triton)
        a = await asyncio.wait_for(task, timeout=60)
        assert (a.model_name, a.serves) == (first.checkpoint_id, first.uri)
        await deployer.teardown(first.checkpoint_id, keep_warm=True)
        kept: Any = apps.read_namespaced_deployment(name, namespace)
        assert IDLE_ANNOTATION in kept.metadata.annotations

        swaps, colds = deploys("swap"), deploys("cold")
        b = await asyncio.wait_for(deployer.deploy(second), timeout=60)
        assert (b.address, b.model_name, b.serves) == (a.address, a.model_name, second.uri)
        assert (deploys("swap") - swaps, deploys("cold") - colds) == (1, 0)
        listed: Any = apps.list_namespaced_deployment(namespace)
        (only,) = listed.items
        assert only.metadata.uid == kept.metadata.uid  # the same object, relabelled
        assert only.metadata.labels[CHECKPOINT_LABEL] == second.checkpoint_id
        assert only.metadata.annotations[CHECKPOINT_LABEL] == second.checkpoint_id
        assert only.metadata.annotations[SERVES_ANNOTATION] == second.uri
        assert IDLE_ANNOTATION not in only.metadata.annotations
        service: Any = k8s.CoreV1Api(admin_api).read_namespaced_service(name, namespace)
        assert service.metadata.labels[CHECKPOINT_LABEL] == second.checkpoint_id

        # Scored on the second checkpoint's own weights; a job of the first is refused.
        served = await _loglikelihoods(b, expect=second.uri)
        own = HFScorer(Path(second.uri), device="cpu").loglikelihood(PAIRS)
        assert served == pytest.approx([c.logprob for c in own], abs=1e-4)
        with pytest.raises(InferenceServerException, match="serves another checkpoint"):
            await _loglikelihoods(b, expect=first.uri)

        assert only.spec.template.metadata.labels == kept.spec.template.metadata.labels
        _report_available(apps, namespace, name)
        restarted = KubernetesDeployer(api, settings, warm_idle_s=600)
        await restarted.start()
        assert restarted.adopted == {second.checkpoint_id: name}
        assert await restarted.deploy(second) == b
        await restarted.teardown(second.checkpoint_id)  # nothing of the run waits
        await deployer.close()
        await restarted.close()

        async def nothing_left() -> bool:
            deployments = await asyncio.to_thread(apps.list_namespaced_deployment, namespace)
            services = await asyncio.to_thread(
                k8s.CoreV1Api(admin_api).list_namespaced_service, namespace
            )
            return not deployments.items and not services.items

        await poll_until_async(nothing_left, timeout_s=30)


async def test_a_failed_swap_deploys_cold_and_idle_objects_go_at_a_cold_deploy_and_in_time(
    kube: ControlPlane, namespace: str, triton: LocalTriton, run_volume: Path
) -> None:
    first, second = _checkpoint(run_volume, 0), _checkpoint(run_volume, 60)
    settings, orchestrator_api = _setup(kube, namespace, triton, run_volume)
    with kube.admin() as admin_api, orchestrator_api as api:
        apps = k8s.AppsV1Api(admin_api)
        deployer = KubernetesDeployer(api, settings, warm_idle_s=600)
        await deployer.start()
        task = asyncio.create_task(deployer.deploy(first))
        await _play_pod(apps, namespace, object_name(first.checkpoint_id), triton)
        await asyncio.wait_for(task, timeout=60)
        await deployer.teardown(first.checkpoint_id, keep_warm=True)
        async with triton_aio.InferenceServerClient(triton.grpc_address) as client:
            await client.unload_model(first.checkpoint_id)  # the warm pod's model is gone

            async def unloaded() -> bool:  # unload_model returns before the unload ends
                return not await client.is_model_ready(first.checkpoint_id)

            await poll_until_async(unloaded, timeout_s=30)

        colds = deploys("cold")
        task = asyncio.create_task(deployer.deploy(second))
        fresh = object_name(second.checkpoint_id)
        await _play_pod(apps, namespace, fresh, triton)
        b = await asyncio.wait_for(task, timeout=60)
        assert (b.model_name, b.serves) == (second.checkpoint_id, second.uri)
        assert deploys("cold") - colds == 1
        remaining: Any = apps.list_namespaced_deployment(namespace)
        names = [d.metadata.name for d in remaining.items]
        assert names == [fresh]  # the warm one that failed its swap was deleted

        # Another run's checkpoint cannot take it: a cold deploy, which first deletes it.
        await deployer.teardown(second.checkpoint_id, keep_warm=True)
        other = discovered("other-run", 0, run_volume / RUN / "checkpoint-0")
        task = asyncio.create_task(deployer.deploy(other))
        await _play_pod(apps, namespace, object_name(other.checkpoint_id), triton)
        await asyncio.wait_for(task, timeout=60)
        remaining = apps.list_namespaced_deployment(namespace)
        assert [d.metadata.name for d in remaining.items] == [object_name(other.checkpoint_id)]

        deployer.warm.idle_s = 0.2  # the running reaper reads it each round
        await deployer.teardown(other.checkpoint_id, keep_warm=True)

        async def reaped() -> bool:
            found = await asyncio.to_thread(apps.list_namespaced_deployment, namespace)
            return not found.items

        await poll_until_async(reaped, timeout_s=30)
        await deployer.close()
