"""A sandbox for the tests: short limits, and an interpreter the sandbox's user can read."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from kiseki.sandbox.config import SandboxConfig

SYSTEM_PYTHON = Path("/usr/bin/python3.11")


def readable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & 0o005 == 0o005 for p in path.resolve().parents)


def sandbox_config(**overrides: Any) -> SandboxConfig:
    """As root the program runs as nobody, who cannot read a pyenv build under /root."""
    python = ""
    if os.geteuid() == 0 and not readable_by_others(Path(sys.base_prefix) / "lib"):
        python = str(SYSTEM_PYTHON)
    defaults = SandboxConfig(cpu_s=1, wall_s=3.0, workers=8, python=python)
    return dataclasses.replace(defaults, **overrides)
