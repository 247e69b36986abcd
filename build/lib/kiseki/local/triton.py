"""tritonserver 2.51 (from the nvidia-pytriton wheel) with the Python backend, on CPU or GPU.

Facts this module encodes (see shared NOTES): the backend stub links libpython3.11, so the
base interpreter's own lib directory goes first in LD_LIBRARY_PATH; the stub imports packages
through the `python3` first on PATH, so the project's venv bin directory goes first there.
"""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import tritonclient.grpc as grpcclient

from kiseki.local.paths import python_env_dir, require, tool_paths
from kiseki.local.process import ManagedProcess, free_port

# glibc serves each allocation above 128 KiB with a fresh mmap, zeroed by page faults, until
# frees teach it otherwise: a fresh model process paid that for every forward's activations
# (measured: generation 30-40% slower than in a process that had trained; a 4-layer,
# 256-wide model's stub used 25 CPU-s for work done in 21 with 256 MiB). Fixed thresholds keep
# those blocks on the heap, for up to 512 MiB freed. Values in bytes; the environment of every
# tritonserver kiseki starts (the Python backend's stub inherits it), local or in a pod.
MODEL_PROCESS_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(256 * 2**20),
    "MALLOC_TRIM_THRESHOLD_": str(512 * 2**20),
}


@dataclass
class LocalTriton:
    grpc_address: str
    http_port: int
    metrics_port: int
    model_repository: Path
    process: ManagedProcess

    @property
    def grpc_port(self) -> int:
        return int(self.grpc_address.rsplit(":", 1)[1])

    def client(self) -> grpcclient.InferenceServerClient:
        return grpcclient.InferenceServerClient(self.grpc_address)

    def stop(self) -> int:
        return self.process.stop(grace_s=15.0)


def triton_environment() -> dict[str, str]:
    home = tool_paths().triton_home
    base_libdir = sysconfig.get_config_var("LIBDIR") or ""
    library_path = [
        base_libdir,
        str(home / "nvidia_pytriton.libs"),
        os.environ.get("LD_LIBRARY_PATH", ""),
    ]
    venv_bin = python_env_dir() / "bin"
    return {
        "LD_LIBRARY_PATH": ":".join(p for p in library_path if p),
        "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        **MODEL_PROCESS_MALLOC,
    }


def _server_ready(address: str) -> bool:
    try:
        with grpcclient.InferenceServerClient(address) as client:
            return bool(client.is_server_ready(client_timeout=1.0))
    except Exception:
        return False


def start_triton(
    workdir: Path,
    model_repository: Path,
    load_models: tuple[str, ...] = (),
    timeout_s: float = 60.0,
    grpc_port: int = 0,
) -> LocalTriton:
    """One tritonserver in explicit model-control mode; load models later over gRPC.

    `grpc_port` 0 picks a free port; pass the old one to restart a server at its address.
    """
    paths = tool_paths()
    binary = require(paths.tritonserver, "tritonserver")
    grpc_port, http_port, metrics_port = grpc_port or free_port(), free_port(), free_port()
    model_repository.mkdir(parents=True, exist_ok=True)
    argv = [
        str(binary),
        f"--model-repository={model_repository}",
        "--model-control-mode=explicit",
        *(f"--load-model={name}" for name in load_models),
        f"--backend-directory={binary.parent.parent / 'backends'}",
        f"--grpc-port={grpc_port}",
        f"--http-port={http_port}",
        f"--metrics-port={metrics_port}",
        "--allow-gpu-metrics=false",
        "--log-verbose=0",
    ]
    process = ManagedProcess(
        "tritonserver", argv, workdir / f"tritonserver-{grpc_port}.log", env=triton_environment()
    )
    address = f"127.0.0.1:{grpc_port}"
    process.wait_ready(lambda: _server_ready(address), timeout_s)
    return LocalTriton(address, http_port, metrics_port, model_repository, process)
