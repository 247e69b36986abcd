"""The Kubernetes deployer on a real API server, as the chart's ServiceAccount (a real token
bound to the chart's Role): it creates the objects, sees readiness only when the resource's
status says so (the test writes the status subresource as the controller would) and Triton
serves the model (a real local tritonserver), re-adopts after a restart, and deletes.

The serving pods themselves never run: no kubelet or GPU is here. The Triton readiness step
asks a real tritonserver started by the test, reached through KISEKI_K8S_ENDPOINT_ADDRESS.
"""

from __future__ import annotations

import asyncio
import datetime
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.core.config import ConfigError, load_config
from kiseki.local.triton import LocalTriton, start_triton
from kiseki.orchestrator.__main__ import make_deployer
from kiseki.orchestrator.config import KubernetesConfig, OrchestratorConfig
from kiseki.orchestrator.deployer import DeployError
from kiseki.orchestrator.kube_deployer import KubernetesDeployer
from kiseki.orchestrator.kube_objects import CHECKPOINT_LABEL, RUN_LABEL, object_name
from kiseki.orchestrator.kube_served import GROUP, PLURAL, VERSION
from kiseki.serving.endpoints import Endpoint
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev
from support.chart import REPO, install_rbac
from support.kube import ControlPlane
from support.polling import poll_until_async

SERVED = "llmjp-s100"  # a checkpoint whose model the test's tritonserver serves
UNSERVED = "llmjp-s200"  # one it does not
MODELS = (SERVED, "kiseki", "tensorrt_llm", "loglikelihood")


def checkpoint(checkpoint_id: str) -> ev.CheckpointDiscovered:
    step = int(checkpoint_id.rsplit("s", 1)[1])
    return ev.CheckpointDiscovered(
        checkpoint_id=checkpoint_id,
        run_id="llm-jp-3-1.8b",
        step=step,
        uri=f"/checkpoints/llm-jp-3-1.8b/checkpoint-{step}",
        format=ev.CHECKPOINT_FORMAT_HF_TRAINER,
    )


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory, service_logs: Path) -> Iterator[LocalTriton]:
    """A real tritonserver serving a small model under each name the deployer will ask for."""
    repository = tmp_path_factory.mktemp("k8s-model-repository")
    echo = REPO / "tests" / "integration" / "models" / "echo"
    for name in MODELS:
        shutil.copytree(echo, repository / name)
        config = repository / name / "config.pbtxt"
        config.write_text(config.read_text().replace('name: "echo"', f'name: "{name}"'))
    server = start_triton(service_logs / "k8s-triton", repository, load_models=MODELS)
    yield server
    server.stop()


def _settings(namespace: str, triton: LocalTriton, **overrides: Any) -> KubernetesConfig:
    values: dict[str, Any] = {
        "namespace": namespace,
        "serving_image": "registry.example.com/kiseki-triton:test",
        "repository_image": "registry.example.com/kiseki:test",
        "checkpoint_claim": "checkpoints",
        "endpoint_address": triton.grpc_address,
        "poll_s": 0.05,
        "ready_timeout_s": 30.0,
    }
    return KubernetesConfig(**(values | overrides))


def _orchestrator_api(kube: ControlPlane, namespace: str, values: list[str]) -> k8s.ApiClient:
    """Install the chart's RBAC objects and return a client holding the SA's real token."""
    install_rbac(kube, namespace, values)
    return kube.with_token(kube.service_account_token(namespace, "kiseki-orchestrator"))


def _exists(read: Callable[[], Any]) -> Callable[[], Any]:
    async def found() -> Any:
        try:
            return await asyncio.to_thread(read)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    return found


def _report_available(apps: k8s.AppsV1Api, namespace: str, name: str, deployment: Any) -> None:
    """Play the Deployment controller (none runs here): one replica, available."""
    apps.patch_namespaced_deployment_status(
        name,
        namespace,
        {"status": {"observedGeneration": deployment.metadata.generation, "replicas": 1,
                    "readyReplicas": 1, "availableReplicas": 1}},
    )  # fmt: skip


async def _gone(read: Callable[[], Any]) -> bool:
    return await _exists(read)() is None


async def test_deployment_mode_creates_waits_adopts_and_deletes(
    kube: ControlPlane, namespace: str, triton: LocalTriton
) -> None:
    settings = _settings(namespace, triton, node_selector=("nvidia.com/gpu.product=H100",))
    name = object_name(SERVED)
    with kube.admin() as admin_api, _orchestrator_api(kube, namespace, []) as api:
        apps, core = k8s.AppsV1Api(admin_api), k8s.CoreV1Api(admin_api)
        deployer = KubernetesDeployer(api, settings)
        await deployer.start()
        task = asyncio.create_task(deployer.deploy(checkpoint(SERVED)))
        read = _exists(lambda: apps.read_namespaced_deployment(name, namespace))
        deployment = await poll_until_async(read, timeout_s=10)
        read_service = _exists(lambda: core.read_namespaced_service(name, namespace))
        service = await poll_until_async(read_service, timeout_s=10)  # created just after

        labels = deployment.metadata.labels
        assert labels[CHECKPOINT_LABEL] == SERVED
        assert labels[RUN_LABEL] == "llm-jp-3-1.8b"
        assert service.metadata.labels == labels
        assert sorted(p.port for p in service.spec.ports) == [8000, 8001, 8002]
        pod = deployment.spec.template.spec
        (triton_container,) = pod.containers
        assert triton_container.readiness_probe.http_get.path == "/v2/health/ready"
        assert triton_container.resources.limits["nvidia.com/gpu"] == "1"
        assert pod.node_selector == {"nvidia.com/gpu.product": "H100"}
        checkpoints = next(v for v in pod.volumes if v.name == "checkpoints")
        assert checkpoints.persistent_volume_claim.read_only
        assert not task.done()  # the Deployment exists but reports no available replica

        _report_available(apps, namespace, name, deployment)
        endpoint = await asyncio.wait_for(task, timeout=30)
        assert endpoint == Endpoint(triton.grpc_address, SERVED, serves=checkpoint(SERVED).uri)

        restarted = KubernetesDeployer(api, settings)
        await restarted.start()
        assert restarted.adopted == {SERVED: name}
        assert await restarted.deploy(checkpoint(SERVED)) == endpoint
        again: Any = apps.read_namespaced_deployment(name, namespace)
        assert again.metadata.uid == deployment.metadata.uid  # adopted, not created twice

        await restarted.teardown(SERVED)
        await poll_until_async(
            lambda: _gone(lambda: apps.read_namespaced_deployment(name, namespace))
        )
        await poll_until_async(lambda: _gone(lambda: core.read_namespaced_service(name, namespace)))


async def test_resource_ready_but_model_not_served_fails_and_cleans_up(
    kube: ControlPlane, namespace: str, triton: LocalTriton
) -> None:
    settings = _settings(namespace, triton, ready_timeout_s=5.0)
    name = object_name(UNSERVED)
    with kube.admin() as admin_api, _orchestrator_api(kube, namespace, []) as api:
        apps = k8s.AppsV1Api(admin_api)
        deployer = KubernetesDeployer(api, settings)
        task = asyncio.create_task(deployer.deploy(checkpoint(UNSERVED)))
        read = _exists(lambda: apps.read_namespaced_deployment(name, namespace))
        deployment = await poll_until_async(read, timeout_s=10)
        _report_available(apps, namespace, name, deployment)
        with pytest.raises(DeployError, match="not ready within"):
            await asyncio.wait_for(task, timeout=30)
        await poll_until_async(
            lambda: _gone(lambda: apps.read_namespaced_deployment(name, namespace))
        )


async def test_kserve_mode_waits_for_ready_at_the_current_generation(
    kube: ControlPlane, namespace: str, triton: LocalTriton
) -> None:
    settings = _settings(namespace, triton, mode="kserve")
    name = object_name(SERVED)
    with (
        kube.admin() as admin_api,
        _orchestrator_api(kube, namespace, ["--set", "serving.mode=kserve"]) as api,
    ):
        custom = k8s.CustomObjectsApi(admin_api)
        deployer = KubernetesDeployer(api, settings)
        task = asyncio.create_task(deployer.deploy(checkpoint(SERVED)))
        read = _exists(
            lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        )
        service = await poll_until_async(read, timeout_s=10)
        meta, predictor = service["metadata"], service["spec"]["predictor"]
        assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
        assert meta["labels"][CHECKPOINT_LABEL] == SERVED
        assert predictor["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert predictor["containers"][0]["ports"][0] == {"containerPort": 8001, "name": "h2c"}

        def set_status(generation: int) -> None:
            ready = {"type": "Ready", "status": "True"}
            status = {"observedGeneration": generation, "conditions": [ready]}
            custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": status}
            )

        set_status(meta["generation"] - 1)  # Ready, but for an older spec: not yet
        await poll_until_async(lambda: _status_seen(custom, namespace, name), timeout_s=5)
        await asyncio.sleep(0)  # let the deployer poll once more
        assert not task.done()
        set_status(meta["generation"])
        endpoint = await asyncio.wait_for(task, timeout=30)
        assert endpoint == Endpoint(triton.grpc_address, SERVED, serves=checkpoint(SERVED).uri)

        restarted = KubernetesDeployer(api, settings)
        await restarted.start()
        assert restarted.adopted == {SERVED: name}
        await restarted.teardown(SERVED)
        await poll_until_async(lambda: _gone(read_sync(custom, namespace, name)))


def read_sync(custom: k8s.CustomObjectsApi, namespace: str, name: str) -> Callable[[], Any]:
    return lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)


async def _status_seen(custom: k8s.CustomObjectsApi, namespace: str, name: str) -> bool:
    found = await asyncio.to_thread(read_sync(custom, namespace, name))
    return bool(found.get("status"))


async def test_trtllm_engine_build_job_gates_the_deployment(
    kube: ControlPlane, namespace: str, triton: LocalTriton
) -> None:
    settings = _settings(namespace, triton, mode="kserve", backend="trtllm", engine_claim="engines")
    trtllm = TrtllmConfig(engine_dir="/engines", tokenizer_dir="/checkpoints")
    values = ["--set", "serving.mode=kserve", "--set", "serving.backend=trtllm",
              "--set", "serving.trtllm.engineClaim=engines"]  # fmt: skip
    with kube.admin() as admin_api, _orchestrator_api(kube, namespace, values) as api:
        batch, custom = k8s.BatchV1Api(admin_api), k8s.CustomObjectsApi(admin_api)
        deployer = KubernetesDeployer(api, settings, trtllm)
        task = asyncio.create_task(deployer.deploy(checkpoint(SERVED)))
        jobs = _exists(lambda: batch.list_namespaced_job(namespace).items or None)
        (job,) = await poll_until_async(jobs, timeout_s=10)
        mounts = {m.name: m for m in job.spec.template.spec.containers[0].volume_mounts}
        assert mounts["checkpoint"].sub_path == "llm-jp-3-1.8b/checkpoint-100"
        assert mounts["engine"].sub_path == object_name(SERVED)
        assert job.metadata.labels[CHECKPOINT_LABEL] == SERVED
        assert await _gone(read_sync(custom, namespace, object_name(SERVED)))  # gated

        now = _now()
        done = [{"type": t, "status": "True", "lastTransitionTime": now}
                for t in ("SuccessCriteriaMet", "Complete")]  # fmt: skip
        batch.patch_namespaced_job_status(
            job.metadata.name,
            namespace,
            {
                "status": {
                    "startTime": now,
                    "completionTime": now,
                    "succeeded": 1,
                    "conditions": done,
                }
            },
        )
        service = await poll_until_async(_exists(read_sync(custom, namespace, object_name(SERVED))))
        init = service["spec"]["predictor"]["initContainers"][0]
        env = {e["name"]: e["value"] for e in init["env"]}
        assert env["KISEKI_TRTLLM_ENGINE_DIR"] == f"/engines/{object_name(SERVED)}"
        ready = {"observedGeneration": service["metadata"]["generation"],
                 "conditions": [{"type": "Ready", "status": "True"}]}  # fmt: skip
        custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, object_name(SERVED), {"status": ready}
        )
        # The endpoint says what serves it: the engine, at the dtype it was built in.
        # The runners call the front model, which speaks kiseki's contract over the engine.
        expected = Endpoint(triton.grpc_address, "kiseki", "trtllm", "bfloat16")
        assert await asyncio.wait_for(task, timeout=30) == expected
        await deployer.teardown(SERVED)
        await poll_until_async(
            lambda: _gone(lambda: batch.read_namespaced_job(job.metadata.name, namespace))
        )


async def test_orchestrator_entry_point_builds_the_kubernetes_deployer_from_the_environment(
    kube: ControlPlane, namespace: str, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable, value in {
        "KISEKI_POLICY_FILE": "/unused",
        "KISEKI_DEPLOYER": "kubernetes",
        "KISEKI_K8S_NAMESPACE": namespace,
        "KISEKI_K8S_MODE": "kserve",
        "KISEKI_K8S_SERVING_IMAGE": "triton:1",
        "KISEKI_K8S_REPOSITORY_IMAGE": "kiseki:1",
        "KISEKI_K8S_CHECKPOINT_CLAIM": "checkpoints",
        "KUBECONFIG": str(kubeconfig),
    }.items():
        monkeypatch.setenv(variable, value)
    deployer = make_deployer(load_config(OrchestratorConfig))
    assert isinstance(deployer, KubernetesDeployer)
    assert deployer.config.mode == "kserve"
    await deployer.start()  # lists the namespace's InferenceServices on the real server
    assert deployer.adopted == {}
    monkeypatch.setenv("KISEKI_K8S_BACKEND", "trtllm")
    with pytest.raises(ConfigError, match="KISEKI_K8S_ENGINE_CLAIM"):
        make_deployer(load_config(OrchestratorConfig))


async def test_failed_engine_build_fails_the_checkpoint_and_creates_no_service(
    kube: ControlPlane, namespace: str, triton: LocalTriton
) -> None:
    settings = _settings(namespace, triton, backend="trtllm", engine_claim="engines")
    trtllm = TrtllmConfig(engine_dir="/engines", tokenizer_dir="/checkpoints")
    values = ["--set", "serving.backend=trtllm", "--set", "serving.trtllm.engineClaim=engines"]
    with kube.admin() as admin_api, _orchestrator_api(kube, namespace, values) as api:
        batch, apps = k8s.BatchV1Api(admin_api), k8s.AppsV1Api(admin_api)
        deployer = KubernetesDeployer(api, settings, trtllm)
        task = asyncio.create_task(deployer.deploy(checkpoint(SERVED)))
        jobs = _exists(lambda: batch.list_namespaced_job(namespace).items or None)
        (job,) = await poll_until_async(jobs, timeout_s=10)
        now = _now()
        failed = [
            {"type": t, "status": "True", "lastTransitionTime": now,
             "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}
            for t in ("FailureTarget", "Failed")
        ]  # fmt: skip
        batch.patch_namespaced_job_status(
            job.metadata.name,
            namespace,
            {"status": {"startTime": now, "failed": 2, "conditions": failed}},
        )
        with pytest.raises(DeployError, match="backoff limit"):
            await asyncio.wait_for(task, timeout=30)
        name = object_name(SERVED)
        assert await _gone(lambda: apps.read_namespaced_deployment(name, namespace))
        await poll_until_async(
            lambda: _gone(lambda: batch.read_namespaced_job(job.metadata.name, namespace))
        )


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
