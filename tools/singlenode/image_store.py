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
import subprocess
import tarfile
from pathlib import Path

from kiseki.local.paths import cache_dir, tool_paths, versions

HERE = Path(__file__).resolve().parent
NAMESPACE = "k8s.io"


def _layer(binary: Path, target: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(target.lstrip("/"))
        info.size, info.mode, info.mtime = binary.stat().st_size, 0o755, 0
        with binary.open("rb") as stream:
            tar.addfile(info, stream)
    return buffer.getvalue()


def static_image(name: str, binary: Path, target: str, entrypoint: list[str]) -> Path:
    """A Docker archive of an image made of `binary` alone, at `target`; cached by content."""
    layer = _layer(binary, target)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint, "User": "65535:65535"},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()
    manifest = [{"Config": "config.json", "RepoTags": [name], "Layers": ["layer.tar"]}]
    key = hashlib.sha256(config + name.encode()).hexdigest()[:12]
    archive = cache_dir() / "cluster" / "images" / f"{name.replace('/', '_')}-{key}.tar"
    if archive.exists():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for member, data in (
            ("layer.tar", layer),
            ("config.json", config),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    partial.rename(archive)
    return archive


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
