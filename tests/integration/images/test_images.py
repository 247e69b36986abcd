"""The images start as the chart runs them and their entry points answer: a service's
`/healthz`, tritonserver's ready endpoint. Non-root, read-only root filesystem, every
capability dropped, /tmp (and the serving pod's /models) writable scratch space."""

from __future__ import annotations

from typing import Any

import docker  # type: ignore[import-untyped]
import pytest
from testcontainers.core.container import DockerContainer

from support.containers import container_engine, http_status, url_of, wait_for_status

pytestmark = pytest.mark.skipif(container_engine() is not None, reason=str(container_engine()))

HEALTH_PORT = 9090
TRITON_HTTP_PORT = 8000


def hardened(image: str, scratch: tuple[str, ...] = ("/tmp",)) -> DockerContainer:
    """The pod's securityContext (templates/deployments.yaml, orchestrator/kube_pod.py)."""
    options: dict[str, Any] = {
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
    }
    container = DockerContainer(image, **options)
    for path in scratch:
        container.with_tmpfs_mount(path)
    return container


def test_a_service_in_the_kiseki_image_answers_its_health_endpoints(
    built_images: dict[str, str], docker_api: docker.DockerClient
) -> None:
    sink = (
        hardened(built_images["kiseki"])
        .with_command(["python", "-m", "kiseki.sink"])
        .with_env("KISEKI_HEALTH_HOST", "0.0.0.0")
        .with_env("KISEKI_HEALTH_PORT", str(HEALTH_PORT))
        # No broker: the sink is alive and says it is not ready, as with Kafka still starting.
        .with_env("KISEKI_KAFKA_BOOTSTRAP", "127.0.0.1:1")
        .with_env("KISEKI_STORE_URL", "chdb:/tmp/store")
        .with_exposed_ports(HEALTH_PORT)
    )
    with sink:
        wait_for_status(url_of(sink, HEALTH_PORT, "/healthz"), 200, timeout_s=60.0)
        assert http_status(url_of(sink, HEALTH_PORT, "/readyz")) == 503
        attrs = docker_api.containers.get(sink.get_wrapped_container().id).attrs
        assert attrs["Config"]["User"] == "10001:10001"


def test_tritonserver_in_the_serving_image_becomes_ready(
    built_images: dict[str, str], docker_api: docker.DockerClient
) -> None:
    triton = (
        hardened(built_images["triton"], scratch=("/tmp", "/models"))
        .with_command(
            [
                "tritonserver",
                "--model-repository=/models",
                "--model-control-mode=explicit",
                f"--http-port={TRITON_HTTP_PORT}",
                "--allow-gpu-metrics=false",
            ]
        )
        .with_exposed_ports(TRITON_HTTP_PORT)
    )
    with triton:
        wait_for_status(url_of(triton, TRITON_HTTP_PORT, "/v2/health/ready"), 200, timeout_s=60.0)
        exit_code, output = triton.exec(
            ["python3", "-c", "import torch, numpy; print(numpy.__version__)"]
        )
        assert (exit_code, output.decode().strip()) == (0, "1.26.4")
