"""The cluster's certificates: one CA, the API server's serving certificate, client
certificates for the admin, the node and the API server's calls to the kubelet, and the
service-account signing key; kubeconfig files that use them."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

# A throw-away cluster: a day outlives any test run.
VALID = datetime.timedelta(days=1)
_PEM = serialization.Encoding.PEM


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            _PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )


def name(common: str, organization: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None = None,
    hosts: tuple[str, ...] = (),
) -> x509.Certificate:
    """A CA certificate when `issuer` is None, else one it signs (serving `hosts`, names or
    IP addresses, when given)."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signing_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(host) for host in hosts]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class ClusterPki:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, stem: str) -> Path:
        return self.directory / f"{stem}.crt"

    def key(self, stem: str) -> Path:
        return self.directory / f"{stem}.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_public(self) -> Path:
        return self.directory / "sa.pub"


def make_cluster_pki(directory: Path, server_hosts: tuple[str, ...], node: str) -> ClusterPki:
    """The CA (its key kept: the controller-manager signs with it), `apiserver` serving
    `server_hosts`, `admin` (system:masters), `node` (system:node:NODE) and the SA key."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = ClusterPki(directory)
    ca_key, ca_name = new_key(), name("kiseki-cluster-ca")
    pki.ca.write_bytes(certificate(ca_name, ca_key).public_bytes(_PEM))
    write_key(pki.key("ca"), ca_key)
    for stem, subject, hosts in (
        ("apiserver", name("kube-apiserver"), server_hosts),
        ("admin", name("kiseki-admin", "system:masters"), ()),
        ("node", name(f"system:node:{node}", "system:nodes"), ()),
    ):
        key = new_key()
        signed = certificate(subject, key, issuer=(ca_name, ca_key), hosts=hosts)
        pki.cert(stem).write_bytes(signed.public_bytes(_PEM))
        write_key(pki.key(stem), key)
    sa_key = new_key()
    write_key(pki.service_account_key, sa_key)
    pki.service_account_public.write_bytes(
        sa_key.public_key().public_bytes(_PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return pki


def write_kubeconfig(path: Path, url: str, pki: ClusterPki, user: str) -> Path:
    """A kubeconfig for `url` as the client certificate `user` (admin or node)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kiseki\n"
        f"clusters: [{{name: kiseki, cluster: {{server: '{url}',"
        f" certificate-authority: '{pki.ca}'}}}}]\n"
        f"users: [{{name: {user}, user: {{client-certificate: '{pki.cert(user)}',"
        f" client-key: '{pki.key(user)}'}}}}]\n"
        f"contexts: [{{name: kiseki, context: {{cluster: kiseki, user: {user}}}}}]\n"
    )
    return path
