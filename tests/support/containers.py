"""Containers for the tests through podman's Docker-compatible API, driven by testcontainers.

There is no Docker engine on these machines: `podman system service` answers the Docker API on
a socket of the test's own, with the runtime flags the hosts need (tools/images.py's
containers.conf). testcontainers' reaper image cannot be pulled (no registry), so the reaper is
off and `docker_api` removes what the tests' containers left behind.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import images
from kubernetes import client as k8s
from testcontainers.core.config import (
    ConnectionMode,
    testcontainers_config,
)
from testcontainers.core.container import DockerContainer

from kiseki.local.process import ManagedProcess
from support.polling import poll_until

# The label testcontainers puts on every container it starts.
TESTCONTAINERS_LABEL = "org.testcontainers"


def container_engine() -> str | None:
    """Why no container can run here, or None when podman is installed."""
    if shutil.which("podman") is None:
        return "no container engine: podman is not installed (tools/setup.sh --images)"
    return None


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    try:
        return bool(docker.DockerClient(base_url=f"unix://{socket}").ping())
    except docker.errors.DockerException:
        return False


@contextmanager
def podman_docker_api(workdir: Path) -> Iterator[docker.DockerClient]:
    """`podman system service` on a socket in `workdir`; DOCKER_HOST for testcontainers."""
    socket = workdir / "podman.sock"
    argv = ["podman", "system", "service", "--time=0", f"unix://{socket}"]
    service = ManagedProcess(
        "podman-service", argv, workdir / "podman-service.log", env=images.podman_env()
    )
    client: docker.DockerClient | None = None
    try:
        service.wait_ready(lambda: _answers(socket), timeout_s=30.0)
        client = docker.DockerClient(base_url=f"unix://{socket}")
        testcontainers_config.ryuk_disabled = True
        # podman runs on this host and publishes ports here; testcontainers would otherwise
        # take these sandboxed machines for a container and look for a gateway address.
        testcontainers_config.connection_mode_override = ConnectionMode.docker_host
        testcontainers_config.tc_host_override = "127.0.0.1"
        with _docker_host(f"unix://{socket}"):
            yield client
    finally:
        if client is not None:
            for left in client.containers.list(all=True, filters={"label": TESTCONTAINERS_LABEL}):
                left.remove(force=True)
            client.close()
        service.stop(grace_s=10.0)


@contextmanager
def _docker_host(url: str) -> Iterator[None]:
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before


def http_status(url: str) -> int:
    """The HTTP status `url` answers with, 0 when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=2.0) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def url_of(container: DockerContainer, port: int, path: str) -> str:
    """Where this host reaches `path` on a container's published `port`."""
    host, mapped = container.get_container_host_ip(), container.get_exposed_port(port)
    return f"http://{host}:{mapped}{path}"


def wait_for_status(url: str, status: int, timeout_s: float) -> None:
    poll_until(lambda: http_status(url) == status, timeout_s=timeout_s, interval_s=0.25)


def chart_container(
    objects: list[dict[str, Any]], deployment: str, workdir: Path, env: dict[str, str]
) -> DockerContainer:
    """The first container of a rendered Deployment as testcontainers runs it on this host's
    network: its image, command, env (with `env` overriding addresses), user and read-only
    root; an emptyDir becomes a tmpfs, a ConfigMap a folder of its files, a claim a folder."""
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    pod = by_kind[("Deployment", deployment)]["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    values = {e["name"]: e["value"] for e in spec.get("env", []) if "value" in e}
    security = spec.get("securityContext", {})
    container = DockerContainer(
        spec["image"],
        command=spec["command"],
        env={**values, **env},
        network_mode="host",
        read_only=bool(security.get("readOnlyRootFilesystem")),
        cap_drop=security.get("capabilities", {}).get("drop", []),
    )
    mounts = {m["name"]: m for m in spec.get("volumeMounts", [])}
    for volume in pod.get("volumes", []):
        target = mounts[volume["name"]]["mountPath"]
        if "emptyDir" in volume:
            container.with_tmpfs_mount(target)
            continue
        source = workdir / volume["name"]
        source.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            data = by_kind[("ConfigMap", volume["configMap"]["name"])]["data"]
            for name, text in data.items():
                (source / name).write_text(text)
        container.with_volume_mapping(str(source), target, "ro")
    return container


def pod_container(
    pod: k8s.V1PodSpec, spec: k8s.V1Container, folders: dict[str, Path]
) -> DockerContainer:
    """One container of a pod spec the orchestrator builds, as its kubelet would start it:
    image, command, env, the pod's user, the container's read-only root and dropped
    capabilities; `folders` backs the pod's claims and shared emptyDirs (by volume name),
    every other emptyDir is a tmpfs."""
    user = pod.security_context.run_as_user if pod.security_context else None
    security = spec.security_context or k8s.V1SecurityContext()
    container = DockerContainer(
        str(spec.image),
        env={e.name: e.value for e in spec.env or [] if e.value is not None},
        user=f"{user}:{user}" if user is not None else None,
        read_only=bool(security.read_only_root_filesystem),
        cap_drop=security.capabilities.drop if security.capabilities else [],
    ).with_command(list(spec.command or []))
    for mount in spec.volume_mounts or []:
        if mount.name in folders:
            mode = "ro" if mount.read_only else "rw"
            container.with_volume_mapping(str(folders[mount.name]), mount.mount_path, mode)
        else:
            container.with_tmpfs_mount(mount.mount_path)
    return container
