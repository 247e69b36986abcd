"""The node's images: pulled from nowhere, imported into containerd.

The pause image and the in-cluster broker's image each hold one static binary; they are written
here as Docker archives (a layer tar, a config, a manifest) and cached by content. The kiseki and
Triton images come from podman's store (`make images`), streamed with `podman save`.
containerd's content store lives in the cache directory, so each image is imported once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

from kiseki.local.paths import cache_dir, tool_paths, versions

HERE = Path(__file__).resolve().parent
NAMESPACE = "k8s.io"
JRE_PACKAGES = ("openjdk-17-jre-headless",)


def _layer(files: dict[str, Path], out: Path) -> Path:
    """A layer tar of `files` (path in the image -> file here), mode 0755, time 0; cached."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for target, source in sorted(files.items()):
            info = tarfile.TarInfo(target.lstrip("/"))
            info.size, info.mode, info.mtime = source.stat().st_size, 0o755, 0
            with source.open("rb") as stream:
                tar.addfile(info, stream)
    partial.rename(out)
    return out


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def layered_image(name: str, layers: list[Path], config: dict[str, object]) -> Path:
    """A Docker archive of an image made of `layers` (tar files) and the `config` part of an
    image config (Entrypoint, User, Env); cached under its name and the layers' digests."""
    diff_ids = [_digest(layer) for layer in layers]
    image_config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        sort_keys=True,
    ).encode()
    members = [f"{i}.tar" for i in range(len(layers))]
    manifest = [{"Config": "config.json", "RepoTags": [name], "Layers": members}]
    key = hashlib.sha256(image_config + name.encode()).hexdigest()[:12]
    archive = cache_dir() / "cluster" / "images" / f"{name.replace('/', '_')}-{key}.tar"
    if archive.exists():
        return archive
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for member, layer in zip(members, layers, strict=True):
            tar.add(layer, arcname=member)
        for member, data in (
            ("config.json", image_config),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    partial.rename(archive)
    return archive


def static_image(name: str, binary: Path, target: str, entrypoint: list[str]) -> Path:
    """An image made of `binary` alone, at `target`."""
    layer = _layer({target: binary}, _images() / f"{binary.parent.name}-{binary.name}.layer.tar")
    return layered_image(name, [layer], {"Entrypoint": entrypoint, "User": "65535:65535"})


def pause_image() -> tuple[str, Path]:
    """The sandbox image: pause.c compiled static here (no registry to pull one from)."""
    source = HERE / "pause.c"
    key = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    binary = cache_dir() / "cluster" / f"pause-{key}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(binary), str(source)], check=True)
    name = f"localhost/kiseki-pause:{key}"
    return name, static_image(name, binary, "/pause", ["/pause"])


def _images() -> Path:
    return cache_dir() / "cluster" / "images"


def _debian_rootfs(packages: tuple[str, ...]) -> Path:
    """A Debian bookworm root made by mmdebstrap (as tools/images.py makes its base): the tar is
    a layer as it is. SOURCE_DATE_EPOCH=0 keeps it the same for the same packages."""
    key = hashlib.sha256(" ".join(packages).encode()).hexdigest()[:12]
    rootfs = _images() / f"debian-{key}.rootfs.tar"
    if not rootfs.exists():
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        partial = rootfs.with_suffix(".partial")
        subprocess.run(
            ["mmdebstrap", "--quiet", "--format=tar", "--variant=minbase",
             f"--include={','.join(packages)}", "bookworm", str(partial)],
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"}, check=True,
        )  # fmt: skip
        partial.rename(rootfs)
    return rootfs


def kafka_image() -> tuple[str, Path]:
    """Apache Kafka (KRaft) for the cluster: Debian's headless JRE 17 and the Kafka jars
    `make setup` fetched from Maven Central, at /opt/kafka/libs."""
    libs = tool_paths().kafka_libs
    jars = {f"/opt/kafka/libs/{jar.name}": jar for jar in sorted(libs.glob("*.jar"))}
    layer = _layer(jars, _images() / f"{libs.parent.name}.layer.tar")
    name = f"localhost/kiseki-kafka:{libs.parent.name.removeprefix('kafka-')}"
    config: dict[str, object] = {
        "Entrypoint": ["java"],
        "User": "10001:10001",
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    }
    return name, layered_image(name, [_debian_rootfs(JRE_PACKAGES), layer], config)


def tansu_image() -> tuple[str, Path]:
    """The in-cluster broker: Tansu's static binary (the local stack's default broker)."""
    name = f"localhost/kiseki-tansu:{versions()['TANSU_VERSION']}"
    return name, static_image(name, tool_paths().tansu, "/tansu", ["/tansu"])


def _ctr(address: Path, *args: str) -> list[str]:
    return ["ctr", "--address", str(address), "-n", NAMESPACE, *args]


# The podman image ID an import came from: a rebuilt image keeps its tag (the lock's hash)
# but not its ID, and is imported again.
SOURCE_LABEL = "kiseki.dev/podman-id"


def imported(address: Path) -> dict[str, str]:
    """Each image in containerd and the podman image ID it came from ("" when none)."""
    listed = subprocess.run(
        _ctr(address, "images", "ls"), check=True, capture_output=True, text=True
    ).stdout.splitlines()[1:]
    found = {}
    for line in listed:
        fields = line.split()
        labels = dict(pair.split("=", 1) for pair in fields[-1].split(",") if "=" in pair)
        found[fields[0]] = labels.get(SOURCE_LABEL, "")
    return found


def import_archive(address: Path, archive: Path) -> None:
    subprocess.run(_ctr(address, "images", "import", str(archive)), check=True, capture_output=True)


def import_from_podman(address: Path, names: list[str], podman_env: dict[str, str]) -> None:
    """Stream podman images that containerd lacks or holds from another build into it, in one
    archive (`podman save -m | ctr images import -`: the layers they share go once; the kiseki
    image alone is 6.6 GB and takes ~100 s to save on a loaded host)."""
    have = imported(address)
    ids = {name: _podman_id(name, podman_env) for name in names}
    stale = [name for name in names if have.get(name) != ids[name]]
    if not stale:
        return
    save = subprocess.Popen(
        ["podman", "save", "-m", "--format", "docker-archive", "-o", "/dev/stdout", *stale],
        stdout=subprocess.PIPE,
        env=podman_env,
    )
    try:
        subprocess.run(
            _ctr(address, "images", "import", "-"), stdin=save.stdout, check=True,
            capture_output=True,
        )  # fmt: skip
    finally:
        if save.stdout is not None:
            save.stdout.close()
        if save.wait() != 0:
            raise RuntimeError(f"podman save {' '.join(stale)} exited with {save.returncode}")
    for name in stale:
        label = f"{SOURCE_LABEL}={ids[name]}"
        subprocess.run(
            _ctr(address, "images", "label", name, label), check=True, capture_output=True
        )


def _podman_id(name: str, podman_env: dict[str, str]) -> str:
    done = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", name],
        env=podman_env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()
