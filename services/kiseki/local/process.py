"""A server process with a log file, a readiness wait and a clean, bounded stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class ServerFailedToStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def service_ready(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the kiseki service whose health endpoint is on `port` answers `/readyz` 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=1.0) as reply:
            return int(reply.status) == 200
    except OSError:  # refused, not yet listening, or 503 (HTTPError is an OSError)
        return False


class ManagedProcess:
    """Starts `argv` in its own process group with stdout+stderr to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name, self.log_path = name, log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self._proc = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll `ready` until it holds; on death or timeout fail with the log's tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerFailedToStart(
                    f"{self.name} exited with {self._proc.returncode}; log {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerFailedToStart(
            f"{self.name} not ready after {timeout_s} s; log {self.log_path}:\n{self.log_tail()}"
        )

    def signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self._proc.pid, signum)

    def stop(self, grace_s: float = 10.0) -> int:
        """SIGTERM the process group, SIGKILL it after `grace_s`; return the exit code. The
        group's other members go too, even when the leader is already dead: a SIGKILLed
        tritonserver leaves its Python model processes running (700 MB each, seen here)."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self._proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self._proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # what outlived the leader
        self._log.close()
        return int(self._proc.returncode)
