"""code_exec's runner: each program in its own limited process, never in the service's.

Each program gets a fresh Python (`-I -S -B`: no environment variables, no site-packages, no
bytecode written) started by `child.py`, which sets its rlimits, leaves root for `uid` and
refuses sockets and file writes with an audit hook before running it; the process gets an empty
read-only working directory, a minimal environment, its own session (the group is killed after
it, or at the wall-clock limit) and, where `unshare --net` works, a network namespace of its
own with only a loopback. A program that fails, hangs or hits a limit scores 0; the job goes
on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kiseki.sandbox.config import SandboxConfig

log = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("child.py")
# Root has CAP_SYS_ADMIN for a plain network namespace; anyone else needs a user namespace,
# which root must not take: mapped to itself there it could not become `uid`, and root is
# exempt from RLIMIT_NPROC.
ROOT_NAMESPACE = ("unshare", "--net")
USER_NAMESPACE = ("unshare", "--user", "--map-current-user", "--net")


def _works(wrapper: Sequence[str]) -> bool:
    try:
        done = subprocess.run([*wrapper, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def network_namespace() -> tuple[str, ...]:
    """The first command prefix that gives a program no network, or () when none works here
    (a non-root pod under RuntimeDefault seccomp): then the audit hook and the pod's
    NetworkPolicy are the barriers."""
    wrapper = ROOT_NAMESPACE if os.geteuid() == 0 else USER_NAMESPACE
    if _works(wrapper):
        return wrapper
    log.warning("no network namespace for sandboxed programs; sockets blocked in-process only")
    return ()


class SandboxError(RuntimeError):
    """The sandbox cannot run even a trivial program here: every sample would score 0."""


PROBE = "import collections, json, math, re\nassert math.gcd(4, 6) == 2\n"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # what the program forked, too
    process.wait()


class SandboxRunner:
    """A kiseki.evaluation.metrics.code_exec.CodeRunner."""

    def __init__(self, config: SandboxConfig, wrapper: Sequence[str] | None = None) -> None:
        self.config = config
        self.wrapper = tuple(network_namespace() if wrapper is None else wrapper)
        self.uid = config.uid if os.geteuid() == 0 else -1
        self.python = config.python or sys.executable
        if not self._probe():
            raise SandboxError(
                f"{self.python} cannot run a standard-library program in the sandbox as uid"
                f" {self.uid} (-1: the runner's own); set KISEKI_SANDBOX_PYTHON to an"
                " interpreter that user can read"
            )

    def _probe(self) -> bool:
        try:
            return self.run_one(PROBE)
        except OSError:  # no such interpreter
            return False

    def _command(self) -> list[str]:
        c = self.config
        limits = (c.cpu_s, c.memory_bytes, c.file_bytes, c.processes, self.uid)
        return [*self.wrapper, self.python, "-I", "-S", "-B", str(CHILD), *map(str, limits)]

    def run_one(self, program: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="kiseki-sandbox-") as cwd:
            os.chmod(cwd, 0o555)  # a non-root runner owns it: not the program's to write to
            process = subprocess.Popen(
                self._command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=cwd,
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": cwd},
                start_new_session=True,
            )
            try:
                process.communicate(program.encode(), timeout=self.config.wall_s)
            except subprocess.TimeoutExpired:
                return False
            finally:
                _kill_group(process)
            return process.returncode == 0

    def run(self, programs: Sequence[str]) -> list[bool]:
        if not programs:
            return []
        with ThreadPoolExecutor(min(self.config.workers, len(programs))) as pool:
            return list(pool.map(self.run_one, programs))
