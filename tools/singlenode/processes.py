"""The cluster's daemons as process groups recorded by pid, so that `down` (perhaps another
process than the one that ran `up`) stops them; a bounded wait for each to be ready."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# The Popen objects of the daemons this process started, so stopping one also reaps it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class NotReady(RuntimeError):
    """A daemon died or did not become ready: the message holds its log's tail."""


def start(name: str, argv: Sequence[str], logs: Path, env: dict[str, str] | None = None) -> int:
    log = (logs / f"{name}.log").open("ab")
    child = subprocess.Popen(
        list(argv), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    log.close()
    _CHILDREN[child.pid] = child
    return child.pid


def gone(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is not None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def log_tail(logs: Path, name: str, lines: int = 25) -> str:
    path = logs / f"{name}.log"
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


def wait_ready(
    name: str, pid: int, ready: Callable[[], bool], logs: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if gone(pid):
            raise NotReady(f"{name} exited; {logs / name}.log:\n{log_tail(logs, name)}")
        if time.monotonic() > deadline:
            raise NotReady(f"{name} not ready in {timeout_s} s:\n{log_tail(logs, name)}")
        time.sleep(0.2)


def stop(pid: int, grace_s: float = 10.0) -> None:
    """SIGTERM the group, SIGKILL it after `grace_s`; what outlived the leader goes too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait()
