"""The control plane of the single-node cluster: etcd, kube-apiserver (on the bridge's address,
so pods reach it through the `kubernetes` Service), kube-controller-manager, kube-scheduler."""

from __future__ import annotations

import socket
import ssl
import urllib.request

from singlenode import processes
from singlenode.layout import (
    GATEWAY,
    KUBERNETES_SERVICE_IP,
    POD_SUBNET,
    SERVICE_RANGE,
    Workdir,
    kube_binary,
)
from singlenode.pki import ClusterPki

LOCALHOST = "127.0.0.1"
ISSUER = "https://kubernetes.default.svc"
SERVER_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    LOCALHOST,
    GATEWAY,
    KUBERNETES_SERVICE_IP,
)


def free_port(host: str = LOCALHOST) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return b"true" in response.read()
    except OSError:
        return False


def etcd(work: Workdir) -> tuple[int, str]:
    client, peer = f"http://{LOCALHOST}:{free_port()}", f"http://{LOCALHOST}:{free_port()}"
    argv = [
        str(kube_binary("etcd")),
        f"--data-dir={work.root / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync",  # a throw-away store: durability costs seconds per run
    ]
    pid = processes.start("etcd", argv, work.logs)
    processes.wait_ready("etcd", pid, lambda: _answers(f"{client}/health"), work.logs, 60)
    return pid, client


def api_ready(url: str, pki: ClusterPki) -> bool:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(pki.cert("admin")), str(pki.key("admin")))
    try:
        with urllib.request.urlopen(f"{url}/readyz", context=context, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def apiserver(work: Workdir, pki: ClusterPki, etcd_url: str) -> tuple[int, str]:
    port = free_port(GATEWAY)
    url = f"https://{GATEWAY}:{port}"
    argv = [
        str(kube_binary("kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        f"--bind-address={GATEWAY}",
        f"--advertise-address={GATEWAY}",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.cert('apiserver')}",
        f"--tls-private-key-file={pki.key('apiserver')}",
        f"--client-ca-file={pki.ca}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--kubelet-client-certificate={pki.cert('admin')}",
        f"--kubelet-client-key={pki.key('admin')}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-account-issuer={ISSUER}",
        f"--service-account-key-file={pki.service_account_public}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
    ]
    pid = processes.start("kube-apiserver", argv, work.logs)
    processes.wait_ready("kube-apiserver", pid, lambda: api_ready(url, pki), work.logs, 120)
    return pid, url


def controller_manager(work: Workdir, pki: ClusterPki) -> int:
    argv = [
        str(kube_binary("kube-controller-manager")),
        f"--kubeconfig={work.admin_kubeconfig}",
        f"--authentication-kubeconfig={work.admin_kubeconfig}",
        f"--authorization-kubeconfig={work.admin_kubeconfig}",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca}",
        f"--cluster-signing-cert-file={pki.ca}",
        f"--cluster-signing-key-file={pki.key('ca')}",
        "--use-service-account-credentials=false",
        f"--cluster-cidr={POD_SUBNET}",
        f"--service-cluster-ip-range={SERVICE_RANGE}",
        "--leader-elect=false",
        f"--bind-address={LOCALHOST}",
        f"--secure-port={free_port()}",
    ]
    return processes.start("kube-controller-manager", argv, work.logs)


def scheduler(work: Workdir) -> int:
    argv = [
        str(kube_binary("kube-scheduler")),
        f"--kubeconfig={work.admin_kubeconfig}",
        f"--authentication-kubeconfig={work.admin_kubeconfig}",
        f"--authorization-kubeconfig={work.admin_kubeconfig}",
        "--leader-elect=false",
        f"--bind-address={LOCALHOST}",
        f"--secure-port={free_port()}",
    ]
    return processes.start("kube-scheduler", argv, work.logs)
