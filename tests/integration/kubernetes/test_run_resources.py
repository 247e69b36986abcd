"""Per-run serving resources from the chart's example values, end to end: `helm template`
renders the policy and the orchestrator's environment; the objects the deployer would create
for each run (its serving pod, as a Deployment, and the 172B run's engine-build Job) pass a
server-side dry run on the real kube-apiserver with the run's GPUs, memory and placement."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kubernetes import client as k8s

from kiseki.core.config import load_config
from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_resources import run_configs
from kiseki.orchestrator.policy import parse_policies
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev
from support.chart import EXAMPLE_VALUES, render
from support.kube import ControlPlane

EXPECTED = {  # run: (GPUs, memory, GPU product)
    "llm-jp-3-1.8b": ("1", "64Gi", "NVIDIA-A100-SXM4-80GB"),
    "llm-jp-3-13b": ("2", "128Gi", "NVIDIA-H100-80GB-HBM3"),
    "llm-jp-3-172b": ("8", "1200Gi", "NVIDIA-H100-80GB-HBM3"),
}


def _rendered(namespace: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The rendered policy and the orchestrator's environment (Secrets stood in for)."""
    manifests = render("-f", str(EXAMPLE_VALUES), namespace=namespace)
    config = next(m for m in manifests if m["kind"] == "ConfigMap")
    orchestrator = next(
        m for m in manifests if m["metadata"]["name"] == "kiseki-orchestrator"
        and m["kind"] == "Deployment"
    )  # fmt: skip
    (container,) = orchestrator["spec"]["template"]["spec"]["containers"]
    environ = {e["name"]: e.get("value", "from-secret") for e in container["env"]}
    return json.loads(config["data"]["policy.json"]), environ | {"KISEKI_K8S_NAMESPACE": namespace}


def test_each_runs_pod_renders_its_resources_and_passes_a_server_dry_run(
    kube: ControlPlane, namespace: str
) -> None:
    raw, environ = _rendered(namespace)
    book = parse_policies(raw, "policy.json")
    # The chart's default budget must not cap the example's GPUs by a merged max_endpoints.
    assert (book.budget.gpus, book.budget.max_endpoints) == (64, 64)
    cluster = dataclasses.replace(load_config(KubernetesConfig, environ), mode="deployment")
    trtllm = load_config(TrtllmConfig, environ)
    with kube.admin() as api:
        apps, batch = k8s.AppsV1Api(api), k8s.BatchV1Api(api)
        for run_id, (gpus, memory, product) in EXPECTED.items():
            policy = book.for_run(run_id)
            assert policy is not None
            checkpoint = ev.CheckpointDiscovered(
                checkpoint_id=f"{run_id}/step-1000", run_id=run_id, step=1000,
                uri=f"/checkpoints/{run_id}/checkpoint-1000",
            )  # fmt: skip
            cfg, engine = run_configs(cluster, trtllm, policy.serving)
            deployment, _ = objects.deployment(cfg, checkpoint, engine, policy.serving)
            created: Any = apps.create_namespaced_deployment(namespace, deployment, dry_run="All")
            pod = created.spec.template.spec
            limits = pod.containers[0].resources.limits
            assert (limits["nvidia.com/gpu"], limits["memory"]) == (gpus, memory)
            assert pod.node_selector == {"nvidia.com/gpu.product": product}
            if engine is None:
                assert "--dtype" in pod.init_containers[0].command
                continue
            assert [t.key for t in pod.tolerations] == ["nvidia.com/gpu", "dedicated"]
            job = objects.build_job(cfg, engine, checkpoint, policy.serving)
            built: Any = batch.create_namespaced_job(namespace, job, dry_run="All")
            build = built.spec.template.spec
            assert build.containers[0].resources.limits["nvidia.com/gpu"] == "8"
            assert "--tp_size 8" in build.containers[0].command[-1]
            assert build.node_selector == {"nvidia.com/gpu.product": product}
