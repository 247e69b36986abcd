"""The node: the bridge, containerd, the kubelet, kube-proxy and CoreDNS."""

from __future__ import annotations

import socket
import struct
import subprocess
import urllib.request

from singlenode import configs, processes
from singlenode.control import free_port
from singlenode.layout import (
    BRIDGE,
    GATEWAY,
    NODE,
    POD_SUBNET,
    Workdir,
    coredns_binary,
    kube_binary,
)
from singlenode.pki import ClusterPki, write_kubeconfig


class ClusterRunning(RuntimeError):
    """The bridge exists: another cluster runs on this host (one at a time: the kubelet's
    iptables chains and folders are host-wide)."""


def make_bridge() -> None:
    """The bridge with its gateway address, before the API server and CoreDNS bind to it.
    Creating it is the host-wide lock: a second `up` fails here."""
    added = subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], capture_output=True)
    if added.returncode != 0:
        raise ClusterRunning(
            f"cannot create the bridge {BRIDGE} ({added.stderr.decode().strip()}): is a cluster"
            " up? `tools/cluster.py down --workdir DIR` stops it"
        )
    prefix = POD_SUBNET.split("/")[1]
    subprocess.run(["ip", "addr", "add", f"{GATEWAY}/{prefix}", "dev", BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)


def _ctr_answers(work: Workdir) -> bool:
    if not work.containerd_socket.exists():
        return False
    done = subprocess.run(
        ["ctr", "--address", str(work.containerd_socket), "version"], capture_output=True
    )
    return done.returncode == 0


def containerd(work: Workdir, pause: str) -> int:
    config = configs.containerd(work, pause)
    configs.cni(work)
    pid = processes.start("containerd", ["containerd", "--config", str(config)], work.logs)
    processes.wait_ready("containerd", pid, lambda: _ctr_answers(work), work.logs, 60)
    return pid


def kubelet(work: Workdir, pki: ClusterPki, api_url: str) -> int:
    kubeconfig = write_kubeconfig(work.config / "node.kubeconfig", api_url, pki, "node")
    config = configs.kubelet(work, pki, free_port(GATEWAY), free_port())
    argv = [
        str(kube_binary("kubelet")),
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={work.root / 'kubelet'}",
        f"--cert-dir={work.root / 'kubelet' / 'pki'}",
        f"--hostname-override={NODE}",
        f"--node-ip={GATEWAY}",
        "--v=1",
    ]
    return processes.start("kubelet", argv, work.logs)


def kube_proxy(work: Workdir) -> int:
    config = configs.kube_proxy(work, work.admin_kubeconfig, free_port(), free_port())
    return processes.start(
        "kube-proxy", [str(kube_binary("kube-proxy")), f"--config={config}"], work.logs
    )


def kube_proxy_cleanup(work: Workdir) -> None:
    """kube-proxy's own removal of its iptables rules."""
    subprocess.run(
        [str(kube_binary("kube-proxy")), "--cleanup"],
        stdout=(work.logs / "kube-proxy-cleanup.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def coredns(work: Workdir) -> int:
    port = free_port()
    corefile = configs.corefile(work, work.admin_kubeconfig, port)
    pid = processes.start("coredns", [str(coredns_binary()), "-conf", str(corefile)], work.logs)
    processes.wait_ready("coredns", pid, lambda: _ready(port), work.logs, 60)
    return pid


def resolve(name: str, server: str = GATEWAY) -> list[str]:
    """The IPv4 addresses a DNS server answers for `name` (one A query over UDP)."""
    query = struct.pack(">HHHHHH", 0x6B69, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query += struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(query, (server, 53))
        try:
            reply = sock.recv(4096)
        except OSError:
            return []
    answers, offset = struct.unpack(">H", reply[6:8])[0], len(query)
    found = []
    for _ in range(answers):
        offset += 2 if reply[offset] & 0xC0 else reply.index(b"\0", offset) + 1 - offset
        kind, _, _, length = struct.unpack(">HHIH", reply[offset : offset + 10])
        offset += 10
        if kind == 1:
            found.append(socket.inet_ntoa(reply[offset : offset + length]))
        offset += length
    return found
