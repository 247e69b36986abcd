"""`up`, `down` and `status` of the single-node cluster in a work directory.

`up` records the host first (host.py), then each daemon's pid as it starts (state.json), so a
`down` from any process, even after an `up` that failed half-way, stops what runs and puts the
host back. Pods are deleted through the API before the kubelet stops, so it tears their
sandboxes down (network namespaces, veths, addresses) as it always does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import images as podman_images  # tools/images.py: podman with this host's runtime flags
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from singlenode import control, host, image_store, node, processes
from singlenode.layout import BRIDGE, KUBERNETES_SERVICE_IP, NODE, Workdir
from singlenode.pki import make_cluster_pki, write_kubeconfig

# Stopped in this order: nothing recreates pods once the controllers are gone, the kubelet
# goes after its pods, the API server and etcd last.
STOP_ORDER = (
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "coredns",
    "containerd",
    "kube-apiserver",
    "etcd",
)
NODE_READY_S = 120.0


@dataclass
class Cluster:
    work: Workdir
    api_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        return self.work.admin_kubeconfig

    def save(self) -> None:
        self.work.state.write_text(json.dumps({"api_url": self.api_url, "pids": self.pids}))

    @classmethod
    def load(cls, root: Path) -> Cluster:
        work = Workdir(root)
        state = json.loads(work.state.read_text()) if work.state.exists() else {}
        return cls(work, state.get("api_url", ""), state.get("pids", {}))

    def started(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self.save()

    def api(self) -> k8s.ApiClient:
        made: k8s.ApiClient = k8s_config.new_client_from_config(str(self.kubeconfig))
        return made


def up(root: Path, images_to_load: tuple[str, ...] = ()) -> Cluster:
    """Start every part, wait for the Node to be Ready and CoreDNS to answer, import images
    (`images_to_load` from podman's store). On failure, what started is stopped again."""
    cluster = Cluster(Workdir(root))
    host.snapshot(BRIDGE, root).save(cluster.work.host_before)
    node.make_bridge()
    try:
        _start(cluster, images_to_load)
    except BaseException:
        down(root)
        raise
    return cluster


def _start(cluster: Cluster, images_to_load: tuple[str, ...]) -> None:
    work = cluster.work
    pki = make_cluster_pki(work.root / "pki", control.SERVER_NAMES, NODE)
    pid, etcd_url = control.etcd(work)
    cluster.started("etcd", pid)
    pid, cluster.api_url = control.apiserver(work, pki, etcd_url)
    cluster.started("kube-apiserver", pid)
    write_kubeconfig(work.admin_kubeconfig, cluster.api_url, pki, "admin")
    pause, pause_archive = image_store.pause_image()
    cluster.started("containerd", node.containerd(work, pause))
    _load_images(work, pause_archive, images_to_load)
    cluster.started("kube-controller-manager", control.controller_manager(work, pki))
    cluster.started("kube-scheduler", control.scheduler(work))
    cluster.started("kubelet", node.kubelet(work, pki, cluster.api_url))
    cluster.started("kube-proxy", node.kube_proxy(work))
    cluster.started("coredns", node.coredns(work))
    _wait(cluster, lambda: node_ready(cluster), "the Node Ready", "kubelet")
    name = "kubernetes.default.svc.cluster.local"
    _wait(
        cluster, lambda: KUBERNETES_SERVICE_IP in node.resolve(name), f"{name} resolved", "coredns"
    )


def _load_images(work: Workdir, pause_archive: Path, names: tuple[str, ...]) -> None:
    tansu, tansu_archive = image_store.tansu_image()
    image_store.import_archive(work.containerd_socket, pause_archive)
    if tansu not in image_store.imported(work.containerd_socket):
        image_store.import_archive(work.containerd_socket, tansu_archive)
    if names:
        image_store.import_from_podman(
            work.containerd_socket, list(names), podman_images.podman_env()
        )


def _wait(cluster: Cluster, condition: Any, what: str, log: str) -> None:
    deadline = time.monotonic() + NODE_READY_S
    while not condition():
        if time.monotonic() > deadline:
            raise processes.NotReady(
                f"{what} not within {NODE_READY_S} s; {log}:\n"
                f"{processes.log_tail(cluster.work.logs, log)}"
            )
        time.sleep(0.5)


def node_ready(cluster: Cluster) -> bool:
    try:
        with cluster.api() as api:
            status: Any = k8s.CoreV1Api(api).read_node_status(NODE).status
    except (k8s.ApiException, OSError):
        return False
    return any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])


def status(root: Path) -> dict[str, Any]:
    """Which daemons run, whether the Node is Ready, and the admin kubeconfig."""
    cluster = Cluster.load(root)
    running = {name: not processes.gone(pid) for name, pid in cluster.pids.items()}
    ready = bool(cluster.api_url) and all(running.values()) and node_ready(cluster)
    return {
        "workdir": str(root),
        "api_url": cluster.api_url,
        "kubeconfig": str(cluster.kubeconfig),
        "running": running,
        "node_ready": ready,
    }


def down(root: Path) -> host.HostState:
    """Stop everything and put the host back as `up` found it; return the host's state after."""
    cluster = Cluster.load(root)
    for name in STOP_ORDER:
        if name == "kubelet":
            _delete_pods(cluster)
        if name == "containerd":
            _remove_containers(cluster.work)
        pid = cluster.pids.pop(name, None)
        if pid is not None:
            processes.stop(pid)
            cluster.save()
    node.kube_proxy_cleanup(cluster.work)
    _kill_shims(cluster.work)
    before = host.HostState.load(cluster.work.host_before)
    return host.restore(before, BRIDGE, root)


def _delete_pods(cluster: Cluster) -> None:
    """Every pod deleted at once; the kubelet stops their sandboxes (CNI DEL) within a minute."""
    if "kubelet" not in cluster.pids or not cluster.api_url:
        return
    with contextlib.suppress(k8s.ApiException, OSError), cluster.api() as api:
        core = k8s.CoreV1Api(api)
        pods: list[Any] = core.list_pod_for_all_namespaces().items
        for pod in pods:
            with contextlib.suppress(k8s.ApiException):
                core.delete_namespaced_pod(
                    pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0
                )
        deadline = time.monotonic() + 60
        while core.list_pod_for_all_namespaces().items and time.monotonic() < deadline:
            time.sleep(0.5)
    deadline = time.monotonic() + 30
    while list(host.NETNS.glob("cni-*")) and time.monotonic() < deadline:
        time.sleep(0.5)


def _ctr(work: Workdir, *args: str) -> list[str]:
    listed = subprocess.run(
        ["ctr", "--address", str(work.containerd_socket), "-n", image_store.NAMESPACE, *args],
        capture_output=True, text=True,
    )  # fmt: skip
    return listed.stdout.split()


def _remove_containers(work: Workdir) -> None:
    """What the kubelet left in containerd (a pod it had no time to stop): killed, removed."""
    if not work.containerd_socket.exists():
        return
    for task in _ctr(work, "tasks", "ls", "-q"):
        _ctr(work, "tasks", "kill", "-s", "SIGKILL", task)
        _ctr(work, "tasks", "delete", "-f", task)
    for container in _ctr(work, "containers", "ls", "-q"):
        _ctr(work, "containers", "delete", container)


def _kill_shims(work: Workdir) -> None:
    """The runc shims of this containerd (they name its socket), should one outlive it."""
    listed = subprocess.run(
        ["pgrep", "-f", f"containerd-shim.*-address {work.containerd_socket}"],
        capture_output=True, text=True,
    )  # fmt: skip
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
