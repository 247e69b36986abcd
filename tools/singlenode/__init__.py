"""A single-node Kubernetes cluster on this machine from real parts (`tools/cluster.py`).

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy built by
`make setup-kube` from tools/kube/go.mod, CoreDNS from its Go module, containerd + runc and the
CNI plugins from Debian. No registry is reachable: the pause image is built here and every image
is imported into containerd. What the kubelet changes on the host is put back on `down`
(host.py).
"""
