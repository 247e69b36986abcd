"""A real control plane (etcd + kube-apiserver with RBAC) for the Kubernetes tests: stand-ins
for the KServe, KEDA and Prometheus Operator CRDs installed, a fresh namespace per test, an
admin kubeconfig."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

from support.chart import CRDS
from support.kube import ControlPlane, control_plane
from support.polling import poll_until


@pytest.fixture(scope="session")
def kube(service_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with control_plane(tmp_path_factory.mktemp("kube"), service_logs) as plane:
        with plane.admin() as api:
            names = []
            for crd in CRDS:
                k8s_utils.create_from_yaml(api, str(crd))
                names.append(yaml.safe_load(crd.read_text())["metadata"]["name"])
            established = k8s.ApiextensionsV1Api(api)

            def crds_ready() -> bool:
                for name in names:
                    crd: Any = established.read_custom_resource_definition(name)
                    if not any(
                        c.type == "Established" and c.status == "True"
                        for c in crd.status.conditions or []
                    ):
                        return False
                return True

            poll_until(crds_ready, timeout_s=30)
        yield plane


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    name = f"kiseki-{uuid.uuid4().hex[:8]}"
    with kube.admin() as api:
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    with kube.admin() as api:
        k8s.CoreV1Api(api).delete_namespace(name)


@pytest.fixture(scope="session")
def kubeconfig(kube: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kube.kubeconfig(tmp_path_factory.mktemp("kubeconfig") / "config")
