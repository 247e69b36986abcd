"""`pip install .` from a clone gives the command line and the store clients alone: no torch,
no tritonserver; a command of an upper floor says which extra it needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiseki.local.paths import cache_dir, versions

REPO = Path(__file__).resolve().parents[2]
# The machine's environment (proxy, certificates) without this checkout's import path.
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _lock_without_hashes(tmp_path: Path) -> Path:
    text = (REPO / "requirements.lock").read_text()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(re.sub(r"\s*\\\n\s*--hash=\S+", "", text))
    return constraints


@pytest.fixture(scope="module")
def cli_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding `pip install .` alone, at the lock's versions (the uv `make setup` uses)."""
    tmp_path = tmp_path_factory.mktemp("cli-install")
    # A copy of what the package is built from: the build writes build/ and egg-info there.
    source = tmp_path / "source"
    shutil.copytree(
        REPO / "services", source / "services", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    uv = cache_dir() / f"uv-{versions()['UV_VERSION']}" / "bin" / "uv"
    venv = tmp_path / "venv"
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [str(uv), "pip", "install", "-q", "-c", str(_lock_without_hashes(tmp_path)), str(source)],
        check=True,
        env={**CLEAN_ENV, "VIRTUAL_ENV": str(venv)},
        timeout=600,
    )
    return venv


def _kiseki(venv: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "kiseki"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=CLEAN_ENV,
    )


def test_the_cli_alone_queries_a_store_without_torch(cli_only: Path, tmp_path: Path) -> None:
    missing = subprocess.run([str(cli_only / "bin" / "python"), "-c", "import torch"], check=False)
    assert missing.returncode != 0
    (tmp_path / "store").mkdir()
    result = _kiseki(
        cli_only,
        "sql",
        "SELECT count() AS rows FROM sample_results",
        "--store",
        f"chdb:{tmp_path / 'store'}",
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["rows", "0"]


def test_an_upper_floor_command_names_the_extra(cli_only: Path) -> None:
    result = _kiseki(cli_only, "trtllm-build-job", "--help")
    assert result.returncode == 2
    assert "kiseki[services,serving]" in result.stderr
