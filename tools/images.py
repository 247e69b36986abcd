"""Build the kiseki and Triton images (`make images`) with podman, on a Debian base made here.

No image registry is reachable from these machines, so the base is made from Debian packages
with mmdebstrap and imported; both images come from services/Dockerfile, tagged by the hash of
requirements.lock. The build mounts uv, its wheel cache, the host's CA bundle and the unpacked
tritonserver rather than downloading them again. Prints one JSON object: tags, sizes, seconds.
Usage: images.py [--comet] [--save DIR]   (--save writes each image as an OCI archive there)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kiseki.local.paths import REPO, cache_dir, tool_paths, versions

SUITE = "bookworm"
# What the images need from Debian: the interpreter the lock was made for, venv, the shared
# libpython the Triton Python backend's stub links, and the CA bundle.
BASE_PACKAGES = ("python3.11", "python3.11-venv", "libpython3.11", "ca-certificates")
# crun fails on these hosts' hybrid cgroups and runc may only lower rlimits (no
# CAP_SYS_RESOURCE): the flags every podman call here needs (see NOTES).
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"""
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def podman_env() -> dict[str, str]:
    """The environment for podman: its own containers.conf, the host's left alone."""
    conf = cache_dir() / "containers" / "containers.conf"
    if not conf.exists() or conf.read_text() != CONTAINERS_CONF:
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def lock_tag(comet: bool = False) -> str:
    """The images' tag: the hash of the lock (and COMET's lock when the image has it)."""
    digest = hashlib.sha256((REPO / "requirements.lock").read_bytes())
    if comet:
        digest.update((REPO / "tools" / "comet" / "requirements.lock").read_bytes())
    return digest.hexdigest()[:12] + ("-comet" if comet else "")


def image_names(comet: bool = False) -> dict[str, str]:
    tag = lock_tag(comet)
    return {"kiseki": f"localhost/kiseki:{tag}", "triton": f"localhost/kiseki-triton:{tag}"}


def _podman(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        ["podman", *args], env=podman_env(), check=True, text=True,
        stdout=subprocess.PIPE if capture else None,
    )  # fmt: skip
    return done.stdout or ""


def base_image() -> str:
    """The Debian base, made once per package list and cached as a tar (SOURCE_DATE_EPOCH=0
    makes mmdebstrap's output reproducible for the same packages)."""
    key = hashlib.sha256(" ".join((SUITE, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    name = f"localhost/kiseki-base:{SUITE}-{key}"
    if _podman("images", "-q", name, capture=True).strip():
        return name
    tar = cache_dir() / "images" / f"debian-{SUITE}-{key}.tar"
    if not tar.exists():
        tar.parent.mkdir(parents=True, exist_ok=True)
        partial = tar.with_suffix(".partial")
        subprocess.run(
            ["mmdebstrap", "--quiet", "--format=tar", "--variant=minbase",
             f"--include={','.join(BASE_PACKAGES)}", SUITE, str(partial)],
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
            check=True,
        )  # fmt: skip
        partial.rename(tar)
    _podman("import", str(tar), name, capture=True)
    return name


def mounts() -> list[str]:
    uv = cache_dir() / f"uv-{versions()['UV_VERSION']}" / "bin" / "uv"
    uv_cache = subprocess.run([str(uv), "cache", "dir"], check=True, text=True, capture_output=True)
    return [
        f"--volume={uv}:/build/uv:ro",
        f"--volume={uv_cache.stdout.strip()}:/build/uv-cache",
        f"--volume={HOST_CA}:/build/ca.crt:ro",
        f"--volume={tool_paths().triton_home}:/build/triton:ro",
    ]


def build(comet: bool = False) -> dict[str, object]:
    started = time.monotonic()
    base, names = base_image(), image_names(comet)
    report: dict[str, object] = {"base": base}
    for target, name in names.items():
        _podman(
            "build", "--quiet", "--timestamp=0", f"--target={target}", f"--tag={name}",
            f"--build-arg=BASE_IMAGE={base}", f"--build-arg=COMET={int(comet)}",
            f"--file={REPO / 'services' / 'Dockerfile'}", *mounts(), str(REPO), capture=True,
        )  # fmt: skip
        size = _podman("image", "inspect", "--format={{.Size}}", name, capture=True)
        report[target] = {"image": name, "size_mb": round(int(size) / 2**20)}
    report["build_s"] = round(time.monotonic() - started, 1)
    return report


def save(names: dict[str, str], directory: Path) -> None:
    """Each image as an OCI archive, the form `ctr images import` loads into containerd."""
    directory.mkdir(parents=True, exist_ok=True)
    for target, name in names.items():
        _podman("save", "--format=oci-archive", f"--output={directory / target}.tar", name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comet", action="store_true", help="add COMET's environment (+5 GB)")
    parser.add_argument("--save", type=Path, help="also write OCI archives into this folder")
    args = parser.parse_args()
    report = build(comet=args.comet)
    if args.save:
        save(image_names(args.comet), args.save)
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
