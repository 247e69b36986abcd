"""Where the cluster's parts live: fixed network choices, the work directory's files, the
binaries `make setup-kube` built."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kiseki.local.paths import REPO, cache_dir, require, versions

NODE = "kiseki-node"
# The CNI bridge and its addresses: a range no host route uses here (eth0 is 192.0.2.0/24,
# podman's networks 10.88.0.0/16). The API server and CoreDNS listen on the bridge's own
# address, the one address of this host that pods reach.
BRIDGE = "kiseki0"
POD_SUBNET = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
# Not the tests' control plane's 10.96.0.0/24: no kube-proxy serves that one, but apart is clearer.
SERVICE_RANGE = "10.97.0.0/24"
KUBERNETES_SERVICE_IP = "10.97.0.1"
CLUSTER_DOMAIN = "cluster.local"


def kube_tools_dir() -> Path:
    """Where tools/setup.sh built the Kubernetes binaries and etcd (keyed by tools/kube/go.mod)."""
    module = REPO / "tools" / "kube"
    key = hashlib.sha256((module / "go.mod").read_bytes() + (module / "go.sum").read_bytes())
    return cache_dir() / f"kube-{versions()['KUBE_VERSION']}-{key.hexdigest()[:12]}"


def helm_binary() -> Path:
    return require(cache_dir() / f"helm-{versions()['HELM_VERSION']}" / "helm", "helm")


def kube_binary(name: str) -> Path:
    tools = kube_tools_dir()
    require(tools / ".complete", "the Kubernetes binaries (`make setup-kube`)")
    return require(tools / name, name)


def coredns_binary() -> Path:
    version = versions()["COREDNS_VERSION"]
    return require(cache_dir() / f"coredns-{version}" / "coredns", "CoreDNS (`make setup-kube`)")


def containerd_root() -> Path:
    """containerd's content and snapshots, kept between clusters: the images are imported once."""
    return cache_dir() / "cluster" / "containerd"


@dataclass(frozen=True)
class Workdir:
    root: Path

    def __post_init__(self) -> None:
        for sub in ("logs", "config", "kubelet", "cni/net.d", "cni/ipam", "containerd-state"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def host_before(self) -> Path:
        return self.root / "host-before.json"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd-state" / "containerd.sock"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.config / "admin.kubeconfig"
