"""A real Kubernetes control plane for tests: etcd and kube-apiserver built by `make setup-kube`.

The API server runs with RBAC authorization, client-certificate authentication (the admin is
in `system:masters`) and service-account tokens signed by a key made here, so a test can act
as the chart's ServiceAccount with a real token. No controllers run: a test plays the
controller by writing status subresources itself.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from kubernetes import client as k8s
from singlenode.layout import kube_tools_dir
from singlenode.pki import certificate, name, new_key, write_key

from kiseki.local.paths import require
from kiseki.local.process import ManagedProcess, free_port

LOCALHOST = "127.0.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_public: Path


def make_pki(directory: Path) -> Pki:
    """A CA, the server's certificate, an admin client certificate and the SA signing key."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name = new_key(), name("kiseki-test-ca")
    ca_cert = certificate(ca_name, ca_key)
    pem = serialization.Encoding.PEM
    files: dict[str, Path] = {}
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    for stem, subject, hosts in (
        ("server", name("kube-apiserver"), ("localhost", LOCALHOST)),
        ("admin", name("kiseki-admin", "system:masters"), ()),
    ):
        key = new_key()
        cert = certificate(subject, key, issuer=(ca_name, ca_key), hosts=hosts)
        (directory / f"{stem}.crt").write_bytes(cert.public_bytes(pem))
        write_key(directory / f"{stem}.key", key)
        files[stem] = directory / stem
    sa_key = new_key()
    write_key(directory / "sa.key", sa_key)
    (directory / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return Pki(
        ca=directory / "ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        service_account_key=directory / "sa.key",
        service_account_public=directory / "sa.pub",
    )


@dataclass(frozen=True)
class ControlPlane:
    url: str
    pki: Pki

    def admin(self) -> k8s.ApiClient:
        """A client authenticated as a cluster administrator (system:masters)."""
        config = k8s.Configuration(host=self.url)
        config.ssl_ca_cert = str(self.pki.ca)
        config.cert_file, config.key_file = str(self.pki.admin_cert), str(self.pki.admin_key)
        return k8s.ApiClient(config)

    def with_token(self, token: str) -> k8s.ApiClient:
        """A client that authenticates with a bearer token (a ServiceAccount's, say)."""
        config = k8s.Configuration(host=self.url)
        config.ssl_ca_cert = str(self.pki.ca)
        config.api_key = {"authorization": f"Bearer {token}"}
        return k8s.ApiClient(config)

    def service_account_token(self, namespace: str, name: str) -> str:
        """A real token for a ServiceAccount, from the TokenRequest API."""
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[SERVICE_ACCOUNT_ISSUER], expiration_seconds=3600)
        )
        with self.admin() as api:
            created: Any = k8s.CoreV1Api(api).create_namespaced_service_account_token(
                name, namespace, request
            )
        return str(created.status.token)

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig file for the admin, for tools such as helm."""
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
            f"clusters: [{{name: test, cluster: {{server: '{self.url}',"
            f" certificate-authority: '{self.pki.ca}'}}}}]\n"
            f"users: [{{name: admin, user: {{client-certificate: '{self.pki.admin_cert}',"
            f" client-key: '{self.pki.admin_key}'}}}}]\n"
            "contexts: [{name: test, context: {cluster: test, user: admin}}]\n"
        )
        return path


def _ready(url: str, pki: Pki) -> bool:
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    try:
        with urllib.request.urlopen(f"{url}/readyz", context=context, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _etcd(tools: Path, workdir: Path, logs: Path) -> tuple[ManagedProcess, str]:
    client, peer = f"http://{LOCALHOST}:{free_port()}", f"http://{LOCALHOST}:{free_port()}"
    argv = [
        str(require(tools / "etcd", "etcd")),
        f"--data-dir={workdir / 'etcd'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=default={peer}",
        "--unsafe-no-fsync",  # a throw-away store: durability costs seconds per test run
    ]
    process = ManagedProcess("etcd", argv, logs / "etcd.log")

    def health() -> bool:
        try:
            with urllib.request.urlopen(f"{client}/health", timeout=1) as response:
                return b'"true"' in response.read()
        except OSError:
            return False

    process.wait_ready(health, timeout_s=60)
    return process, client


def _apiserver_argv(tools: Path, pki: Pki, etcd_url: str, port: int) -> list[str]:
    return [
        str(require(tools / "kube-apiserver", "kube-apiserver")),
        f"--etcd-servers={etcd_url}",
        f"--bind-address={LOCALHOST}",
        f"--advertise-address={LOCALHOST}",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.server_cert}",
        f"--tls-private-key-file={pki.server_key}",
        f"--client-ca-file={pki.ca}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={pki.service_account_public}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        "--service-cluster-ip-range=10.96.0.0/24",
        # No controller-manager runs, so nothing would create the ServiceAccounts the
        # ServiceAccount admission plugin waits for; the tests create the ones they use.
        "--disable-admission-plugins=ServiceAccount",
        "--enable-priority-and-fairness=false",
        # The kubernetes Service would point at a loopback address, which is refused.
        "--endpoint-reconciler-type=none",
    ]


@contextmanager
def control_plane(workdir: Path, logs: Path) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver on free ports; stopped (and their data dropped) on exit."""
    tools = kube_tools_dir()
    require(tools / ".complete", "kube-apiserver and etcd (tools/setup.sh install_kube)")
    pki = make_pki(workdir / "pki")
    etcd, etcd_url = _etcd(tools, workdir, logs)
    port = free_port()
    url = f"https://{LOCALHOST}:{port}"
    apiserver = ManagedProcess(
        "kube-apiserver", _apiserver_argv(tools, pki, etcd_url, port), logs / "kube-apiserver.log"
    )
    try:
        apiserver.wait_ready(lambda: _ready(url, pki), timeout_s=120)
        yield ControlPlane(url=url, pki=pki)
    finally:
        apiserver.stop()
        etcd.stop()
