"""Where `make setup` put the local servers' binaries (overridable per variable)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class ToolMissing(RuntimeError):
    """A local server's binary is not installed: the message says what to run."""


def versions() -> dict[str, str]:
    """The pinned versions in tools/versions.env."""
    path = REPO / "tools" / "versions.env"
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def cache_dir() -> Path:
    return Path(os.environ.get("KISEKI_CACHE", Path.home() / ".cache" / "kiseki"))


@dataclass(frozen=True)
class ToolPaths:
    tansu: Path
    kafka_libs: Path
    triton_home: Path

    @property
    def tritonserver(self) -> Path:
        return self.triton_home / "pytriton" / "tritonserver" / "bin" / "tritonserver"


def tool_paths() -> ToolPaths:
    pinned, cache = versions(), cache_dir()
    kafka_dirs = sorted(cache.glob(f"kafka-{pinned['KAFKA_VERSION']}-*/libs"))
    return ToolPaths(
        tansu=Path(
            os.environ.get("KISEKI_TANSU_BIN", cache / f"tansu-{pinned['TANSU_VERSION']}" / "tansu")
        ),
        kafka_libs=Path(
            os.environ.get("KISEKI_KAFKA_LIBS", kafka_dirs[-1] if kafka_dirs else cache / "kafka")
        ),
        triton_home=Path(
            os.environ.get("KISEKI_TRITON_HOME", cache / f"tritonserver-{pinned['TRITON_VERSION']}")
        ),
    )


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise ToolMissing(f"{what} not found at {path}: run `make setup`")
    return path


def python_env_dir() -> Path:
    """The virtual environment the Triton Python backend stub should import packages from."""
    return Path(sys.prefix)


def vllm_env_dir() -> Path:
    """vLLM's virtual environment (`make setup` links it as .venv-vllm), resolved: the stub
    is told the directory itself."""
    return Path(os.environ.get("KISEKI_VLLM_ENV", REPO / ".venv-vllm")).resolve()
