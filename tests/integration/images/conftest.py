"""The images `make images` builds, and podman's Docker API for testcontainers to run them."""

from __future__ import annotations

from collections.abc import Iterator

import docker  # type: ignore[import-untyped]
import images
import pytest

from support.containers import container_engine, podman_docker_api


@pytest.fixture(scope="session")
def built_images() -> dict[str, str]:
    """Built (or found in podman's layer cache: seconds when nothing changed) like `make images`."""
    if reason := container_engine():
        pytest.skip(reason)
    images.build()
    return images.image_names()


@pytest.fixture(scope="session")
def docker_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker.DockerClient]:
    if reason := container_engine():
        pytest.skip(reason)
    with podman_docker_api(tmp_path_factory.mktemp("podman")) as client:
        yield client
