"""The single-node cluster (tools/singlenode) for tests: started once per session with the
images `make images` built, kiseki's dependencies installed as pods, helm run against it.

One cluster runs on a host at a time (its bridge is the lock), so a second session waits for
the first to end. Logs stay in the session's work directory (printed when it fails).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s
from singlenode import dependencies
from singlenode.cluster import Cluster
from singlenode.image_store import import_archive, imported, kafka_image, tansu_image
from singlenode.layout import helm_binary, kube_tools_dir

from support.chart import CHART, SINGLE_NODE_VALUES
from support.polling import poll_until

T = TypeVar("T")

NAMESPACE = "kiseki"
RELEASE = "kiseki"
# The long form (`make cluster-test`) adds the evaluation inside the cluster, helm upgrade and
# a runner pod deleted mid-job; `make test` runs the short form.
LONG_FORM = os.environ.get("KISEKI_CLUSTER_FORM", "short") == "long"
# A JVM formatting its storage and starting on a loaded 2-core host: a minute or two.
DEPENDENCIES_S = 300.0
# What `helm uninstall` must leave none of: the chart's objects and those its orchestrator made
# (both carry the release's instance label).
RELEASE_KINDS = "deployments,services,configmaps,serviceaccounts,roles,rolebindings,pods,jobs"


def why_no_cluster() -> str | None:
    """Why no kubelet can run here, or None (it needs root and the container tools)."""
    if os.geteuid() != 0:
        return "the single-node cluster needs root (kubelet, containerd, the CNI bridge)"
    for tool in ("containerd", "runc", "ctr", "podman"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            return f"{tool} is not installed (tools/setup.sh --kube)"
    return None


def run(argv: list[str], timeout_s: float = 300, stdin: str = "") -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def kubectl(cluster: Cluster, *args: str, stdin: str = "") -> str:
    kube = str(kube_tools_dir() / "kubectl")
    return run([kube, f"--kubeconfig={cluster.kubeconfig}", *args], stdin=stdin)


def helm(cluster: Cluster, *args: str, timeout_s: float = 300) -> str:
    return run([str(helm_binary()), f"--kubeconfig={cluster.kubeconfig}", *args], timeout_s)


def apply(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    kubectl(cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def install_dependencies(
    cluster: Cluster, kiseki_image: str, folders: dict[str, Path], broker: str = "tansu"
) -> None:
    """The namespace, the example values' claims on `folders`, ClickHouse and a broker as
    pods: Tansu (seconds to start) or Apache Kafka (`broker="kafka"`; its image is made and
    imported on first use)."""
    if broker == "kafka":
        name, archive = kafka_image()
        if name not in imported(cluster.work.containerd_socket):
            import_archive(cluster.work.containerd_socket, archive)
        kafka = dependencies.apache_kafka(NAMESPACE, name)
    else:
        kafka = dependencies.tansu(NAMESPACE, tansu_image()[0])
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    apply(
        cluster,
        [
            namespace,
            *dependencies.claims(NAMESPACE, folders),
            *kafka,
            *dependencies.clickhouse(NAMESPACE, kiseki_image),
        ],
    )
    # Ready before the chart's services start, so that the tests' time limits do not include a
    # slow JVM start (the services would wait for the broker, not ready, until it answered).
    until(cluster, lambda: not unavailable(cluster), DEPENDENCIES_S)


def release_values(built: dict[str, str], *extra: str) -> list[str]:
    """The example values with the images `make images` tagged."""
    tag = built["kiseki"].rsplit(":", 1)[1]
    return [
        "-f", str(SINGLE_NODE_VALUES), "--set", f"image.tag={tag}",
        "--set", f"serving.image={built['triton']}", *extra,
    ]  # fmt: skip


def helm_install(cluster: Cluster, built: dict[str, str], *extra: str) -> str:
    return helm(
        cluster, "install", RELEASE, str(CHART), "-n", NAMESPACE, *release_values(built, *extra)
    )


def unavailable(cluster: Cluster, namespace: str = NAMESPACE) -> list[str]:
    """The Deployments of `namespace` not yet available (every replica ready), with why."""
    with cluster.api() as api:
        listed: list[Any] = k8s.AppsV1Api(api).list_namespaced_deployment(namespace).items
    waiting = []
    for deployment in listed:
        wanted, ready = deployment.spec.replicas, deployment.status.available_replicas or 0
        if ready < wanted:
            waiting.append(f"{deployment.metadata.name} {ready}/{wanted}")
    return waiting or ([] if listed else ["no Deployments"])


def pods_of_release(cluster: Cluster) -> list[str]:
    with cluster.api() as api:
        pods: Any = k8s.CoreV1Api(api).list_namespaced_pod(
            NAMESPACE, label_selector=f"app.kubernetes.io/instance={RELEASE}"
        )
    return [str(pod.metadata.name) for pod in pods.items]


def pod_report(cluster: Cluster) -> str:
    """Every pod's phase and container states, for a failure's message."""
    return (
        kubectl(cluster, "get", "pods", "-A", "-o", "wide")
        + kubectl(cluster, "get", "events", "-A", "--sort-by=.lastTimestamp")[-6000:]
    )


def until(cluster: Cluster, condition: Callable[[], T], timeout_s: float) -> T:
    """poll_until, failing with every pod's state and the cluster's recent events."""
    try:
        return poll_until(condition, timeout_s=timeout_s, interval_s=1.0)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{pod_report(cluster)}") from None


def release_left(cluster: Cluster) -> str:
    selector = f"app.kubernetes.io/instance={RELEASE}"
    return kubectl(cluster, "get", RELEASE_KINDS, "-n", NAMESPACE, "-l", selector, "-o", "name")


def folders_for_pods(cluster_dir: Path) -> dict[str, Path]:
    """The example values' claims' folders, readable by the pods' users (pytest's are root's)."""
    volumes = cluster_dir / "volumes"
    folders = {
        "kiseki-checkpoints": volumes / "checkpoints",
        "kiseki-datasets": volumes / "datasets",
    }
    (folders["kiseki-checkpoints"] / "tiny").mkdir(parents=True, exist_ok=True)
    folders["kiseki-datasets"].mkdir(parents=True, exist_ok=True)
    for path in (volumes, *volumes.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folders
