"""A real control plane (etcd + kube-apiserver with RBAC) for the Kubernetes tests: the KServe
InferenceService CRD installed, a fresh namespace per test, an admin kubeconfig."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import utils as k8s_utils

from support.chart import KSERVE_CRD
from support.kube import ControlPlane, control_plane
from support.polling import poll_until


@pytest.fixture(scope="session")
def kube(service_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with control_plane(tmp_path_factory.mktemp("kube"), service_logs) as plane:
        with plane.admin() as api:
            k8s_utils.create_from_yaml(api, str(KSERVE_CRD))
            established = k8s.ApiextensionsV1Api(api)

            def crd_ready() -> bool:
                crd: Any = established.read_custom_resource_definition(
                    "inferenceservices.serving.kserve.io"
                )
                return any(
                    c.type == "Established" and c.status == "True"
                    for c in crd.status.conditions or []
                )

            poll_until(crd_ready, timeout_s=30)
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
