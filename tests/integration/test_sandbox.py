"""Generated code in kiseki.sandbox: what passes, and what is stopped without stopping the job.

Every program of the module runs in one batch (8 at once), so the slowest, the ones stopped
by the CPU or wall-clock limit, set the time: about 3 s.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.sandbox.runner import SandboxError, SandboxRunner
from support.sandbox import sandbox_config

PROBE_FILE = Path("/tmp/kiseki-sandbox-test-written")
FORKS = 40  # bounded: without RLIMIT_NPROC the test would see 40 sleepers, not a machine's worth

PROGRAMS = {
    "correct": "def add(a, b):\n    return a + b\nassert add(2, 3) == 5\nassert add(0, 0) == 0\n",
    "wrong": "def add(a, b):\n    return a - b\nassert add(2, 3) == 5\n",
    "raising": "def add(a, b):\n    raise ValueError(a)\nassert add(2, 3) == 5\n",
    "exits_before_tests": "import sys\nsys.exit(0)\nassert False\n",
    "infinite_loop": "while True:\n    pass\n",
    "hanging": "import time\ntime.sleep(60)\n",
    "memory_hog": "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n",
    "fork_bomb": (
        "import os, time\n"
        f"for _ in range({FORKS}):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
    ),
    "file_writing": f"open({str(PROBE_FILE)!r}, 'w').write('x' * 100)\n",
    "cwd_writing": (
        "import os\nfd = os.open('out.txt', os.O_WRONLY | os.O_CREAT)\nos.write(fd, b'x')\n"
    ),
}


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture(scope="module")
def outcomes(listener: socket.socket) -> Iterator[dict[str, tuple[bool, float]]]:
    port = listener.getsockname()[1]
    programs = {
        **PROGRAMS,
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n",
    }
    PROBE_FILE.unlink(missing_ok=True)
    runner = SandboxRunner(sandbox_config(workers=len(programs)))
    started = time.monotonic()
    passed = runner.run(list(programs.values()))
    elapsed = time.monotonic() - started
    yield {name: (ok, elapsed) for name, ok in zip(programs, passed, strict=True)}
    PROBE_FILE.unlink(missing_ok=True)


def test_correct_code_passes(outcomes: dict[str, tuple[bool, float]]) -> None:
    assert outcomes["correct"][0] is True


@pytest.mark.parametrize(
    "name", ["wrong", "raising", "exits_before_tests", "infinite_loop", "hanging", "memory_hog"]
)
def test_failing_or_runaway_code_scores_false(
    outcomes: dict[str, tuple[bool, float]], name: str
) -> None:
    assert outcomes[name][0] is False


def test_limits_stop_runaways_within_the_wall_clock(
    outcomes: dict[str, tuple[bool, float]],
) -> None:
    assert outcomes["infinite_loop"][1] < sandbox_config().wall_s + 2


def test_a_fork_bomb_is_bounded(outcomes: dict[str, tuple[bool, float]]) -> None:
    assert outcomes["fork_bomb"][0] is False


def test_files_are_not_written(outcomes: dict[str, tuple[bool, float]]) -> None:
    assert outcomes["file_writing"][0] is False
    assert outcomes["cwd_writing"][0] is False
    assert not PROBE_FILE.exists() or PROBE_FILE.stat().st_size == 0


def test_no_connection_leaves_the_sandbox(
    outcomes: dict[str, tuple[bool, float]], listener: socket.socket
) -> None:
    assert outcomes["network"][0] is False
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


def test_sockets_are_blocked_in_process_without_a_network_namespace() -> None:
    runner = SandboxRunner(sandbox_config(), wrapper=())
    assert runner.run(["import socket\nsocket.socket()\n", "pass\n"]) == [False, True]


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare --net needs CAP_SYS_ADMIN")
def test_the_network_namespace_found_here() -> None:
    # This machine's root has CAP_SYS_ADMIN; the chart's non-root pods get () instead.
    assert SandboxRunner(sandbox_config()).wrapper == ("unshare", "--net")


def test_an_interpreter_that_cannot_run_programs_fails_at_start() -> None:
    with pytest.raises(SandboxError, match="KISEKI_SANDBOX_PYTHON"):
        SandboxRunner(sandbox_config(python="/nonexistent/python3"))
    with pytest.raises(SandboxError):
        SandboxRunner(sandbox_config(python="/nonexistent/python3"), wrapper=())
