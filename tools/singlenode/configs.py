"""The configuration files of containerd, the CNI network, the kubelet, kube-proxy and CoreDNS
(what NOTES' single-node recipe found each needs on these hosts)."""

from __future__ import annotations

import json
from pathlib import Path

from singlenode.layout import (
    BRIDGE,
    CLUSTER_DOMAIN,
    GATEWAY,
    NODE,
    POD_SUBNET,
    Workdir,
    containerd_root,
)
from singlenode.pki import ClusterPki


def containerd(work: Workdir, pause: str) -> Path:
    """Config v2. restrict_oom_score_adj: without it every sandbox fails here ("can't get
    final child's PID from pipe"): the sandbox may not raise its OOM score adjustment."""
    state = work.root / "containerd-state"
    text = f"""version = 2
root = "{containerd_root()}"
state = "{state}"
[grpc]
  address = "{work.containerd_socket}"
[ttrpc]
  address = "{work.containerd_socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{work.root / "cni" / "net.d"}"
"""
    path = work.config / "containerd.toml"
    path.write_text(text)
    return path


def cni(work: Workdir) -> Path:
    """The bridge plugin on the cluster's own bridge, host-local addresses kept in the work
    directory; no masquerading (the pods only talk to each other and to this host)."""
    network = {
        "cniVersion": "0.4.0",
        "name": "kiseki",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(work.root / "cni" / "ipam"),
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": GATEWAY}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            }
        ],
    }
    path = work.root / "cni" / "net.d" / "10-kiseki.conflist"
    path.write_text(json.dumps(network, indent=1))
    return path


def kubelet(work: Workdir, pki: ClusterPki, port: int, healthz_port: int) -> Path:
    """cgroupfs (no systemd here), cgroup v1 allowed, no swap check, OOM score left alone (the
    sandbox may not lower it), no static pods, pods' logs in the work directory; image GC off:
    the images cannot be pulled back."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": GATEWAY,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "cgroupDriver": "cgroupfs",
        "failCgroupV1": False,
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "staticPodPath": "",
        "podLogsDir": str(work.root / "pod-logs"),  # kept with the work directory
        "containerRuntimeEndpoint": f"unix://{work.containerd_socket}",
        "authentication": {
            "x509": {"clientCAFile": str(pki.ca)},
            "webhook": {"enabled": True},
            "anonymous": {"enabled": False},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [GATEWAY],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(_resolv_conf(work)),
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%"},
        "registerNode": True,
        "rotateCertificates": False,
        "serializeImagePulls": False,
        "shutdownGracePeriod": "0s",
    }
    path = work.config / "kubelet.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def _resolv_conf(work: Workdir) -> Path:
    """An empty resolver file for the pods: nothing outside the cluster resolves here anyway,
    and the host's may name a loopback address the pods cannot reach."""
    path = work.config / "resolv.conf"
    path.write_text("")
    return path


def kube_proxy(work: Workdir, kubeconfig: Path, metrics_port: int, healthz_port: int) -> Path:
    """iptables mode; NodePorts on the bridge only and never on 127.0.0.1 (other engineers'
    servers listen there); conntrack left as it is (zeroes: the sandbox may not set them)."""
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "hostnameOverride": NODE,
        "clusterCIDR": POD_SUBNET,
        "bindAddress": GATEWAY,
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "nodePortAddresses": [f"{GATEWAY}/32"],
        "iptables": {"localhostNodePorts": False},
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    path = work.config / "kube-proxy.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def corefile(work: Workdir, kubeconfig: Path, ready_port: int) -> Path:
    """Service and pod names of the cluster, served on the bridge's address."""
    text = f""".:53 {{
    bind {GATEWAY}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""
    path = work.config / "Corefile"
    path.write_text(text)
    return path
