"""The short form of `make cluster-test`, in `make test`: a single-node cluster from real parts
(kubelet, containerd, runc, bridge CNI, kube-proxy, CoreDNS), `helm install` of the chart with
its single-node example values → every Deployment available (probes passing), `helm test`
green, `helm uninstall` leaves nothing of the release, and `down` puts the host back.

The tests run in order on one cluster: each starts from what the one before left."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from singlenode import cluster as single_node
from singlenode import host
from singlenode.layout import BRIDGE, KUBERNETES_SERVICE_IP
from singlenode.node import resolve

from support.cluster import (
    NAMESPACE,
    RELEASE,
    folders_for_pods,
    helm,
    helm_install,
    install_dependencies,
    pods_of_release,
    release_left,
    unavailable,
    until,
    why_no_cluster,
)

pytestmark = pytest.mark.skipif(why_no_cluster() is not None, reason=str(why_no_cluster()))

# Pods start from images already in containerd; the services then reach Kafka and ClickHouse.
AVAILABLE_S = 300.0


def test_the_node_is_ready_and_coredns_answers_service_names(
    cluster: single_node.Cluster,
) -> None:
    assert single_node.node_ready(cluster)
    assert resolve("kubernetes.default.svc.cluster.local") == [KUBERNETES_SERVICE_IP]
    assert resolve("nothing-here.default.svc.cluster.local") == []


def test_helm_install_makes_every_deployment_available_and_helm_test_passes(
    cluster: single_node.Cluster, built_images: dict[str, str], cluster_dir: Path
) -> None:
    install_dependencies(cluster, built_images["kiseki"], folders_for_pods(cluster_dir))
    helm_install(cluster, built_images)
    until(cluster, lambda: not unavailable(cluster), AVAILABLE_S)
    assert len(pods_of_release(cluster)) >= 4  # watcher, orchestrator, runner, sink
    tested = helm(cluster, "test", RELEASE, "-n", NAMESPACE)
    assert re.search(r"Phase:\s+Succeeded", tested), tested


def test_helm_uninstall_leaves_nothing_of_the_release(cluster: single_node.Cluster) -> None:
    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    until(cluster, lambda: release_left(cluster) == "", 120.0)


def test_down_stops_every_part_and_puts_the_host_back(
    cluster: single_node.Cluster, cluster_dir: Path
) -> None:
    before = host.HostState.load(cluster_dir / "host-before.json")
    during = host.snapshot(BRIDGE, cluster_dir)
    # What the kubelet and kube-proxy changed, for the comparison below to mean something.
    assert during.sysctls != before.sysctls
    assert during.rules
    assert during.links
    assert during.mounts
    pids = dict(single_node.Cluster.load(cluster_dir).pids)
    after = single_node.down(cluster_dir)
    assert after == before
    assert not Path(f"/sys/class/net/{BRIDGE}").exists()
    left = subprocess.run(["pgrep", "-f", str(cluster_dir)], capture_output=True, text=True)
    assert left.stdout == "", f"processes of the cluster left: {left.stdout} (pids were {pids})"
