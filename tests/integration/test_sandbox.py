"""Generated code in kiseki.sandbox: what passes, and what is stopped without stopping the job.

Most programs run in one batch, all at once, so the one stopped by the wall-clock limit sets
the time (3 s); the CPU and memory limits are timed on their own, against a 30 s wall.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
    "hanging": "import time\ntime.sleep(60)\n",
    "unparsable": "def add(a, b)\n    return a + b\nassert add(2, 3) == 5\n",
    "null_byte": "def add(a, b):\n    return a + b\x00\n",
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
def outcomes(listener: socket.socket) -> Iterator[dict[str, bool]]:
    port = listener.getsockname()[1]
    programs = {
        **PROGRAMS,
        "network": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n",
    }
    PROBE_FILE.unlink(missing_ok=True)
    runner = SandboxRunner(sandbox_config(workers=len(programs)))
    yield dict(zip(programs, runner.run(list(programs.values())), strict=True))
    PROBE_FILE.unlink(missing_ok=True)


def test_correct_code_passes(outcomes: dict[str, bool]) -> None:
    assert outcomes["correct"] is True


@pytest.mark.parametrize(
    "name", ["wrong", "raising", "exits_before_tests", "hanging", "unparsable", "null_byte"]
)
def test_failing_or_runaway_code_scores_false(outcomes: dict[str, bool], name: str) -> None:
    assert outcomes[name] is False


def test_the_cpu_and_memory_limits_stop_runaways_long_before_the_wall_clock() -> None:
    runner = SandboxRunner(sandbox_config(wall_s=30.0))
    runaways = {
        "infinite_loop": "while True:\n    pass\n",
        # Address space only, never touched: without RLIMIT_AS it succeeds and then sleeps.
        "memory_hog": "import mmap, time\nhog = mmap.mmap(-1, 2 * 1024**3)\ntime.sleep(60)\n",
    }

    def timed(program: str) -> tuple[bool, float]:
        started = time.monotonic()
        return runner.run_one(program), time.monotonic() - started

    with ThreadPoolExecutor(len(runaways)) as pool:
        results = dict(zip(runaways, pool.map(timed, runaways.values()), strict=True))
    assert results["infinite_loop"][0] is False
    assert results["infinite_loop"][1] < 10  # 1 CPU second, on two busy cores
    assert results["memory_hog"][0] is False
    assert results["memory_hog"][1] < 10  # refused at once, not at the 30 s wall


def test_a_fork_bomb_is_bounded(outcomes: dict[str, bool]) -> None:
    assert outcomes["fork_bomb"] is False


def test_files_are_not_written(outcomes: dict[str, bool]) -> None:
    assert outcomes["file_writing"] is False
    assert outcomes["cwd_writing"] is False
    assert not PROBE_FILE.exists() or PROBE_FILE.stat().st_size == 0


def test_native_code_around_the_audit_hook_still_writes_nothing() -> None:
    """RLIMIT_FSIZE and the read-only working directory hold below the interpreter."""
    path = Path(f"/tmp/kiseki-sandbox-native-{os.getpid()}")
    program = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC\n"
        "assert libc.open(b'out.txt', flags, 0o600) == -1\n"
        f"fd = libc.open({str(path).encode()!r}, flags, 0o600)\n"
        "assert fd >= 0\n"
        "assert libc.write(fd, b'x' * 100, 100) == -1\n"
    )
    try:
        assert SandboxRunner(sandbox_config()).run_one(program) is True
        assert path.stat().st_size == 0
    finally:
        path.unlink(missing_ok=True)


def test_no_connection_leaves_the_sandbox(
    outcomes: dict[str, bool], listener: socket.socket
) -> None:
    assert outcomes["network"] is False
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


def test_sockets_are_blocked_in_process_without_a_network_namespace() -> None:
    runner = SandboxRunner(sandbox_config(), wrapper=())
    assert runner.run(["import socket\nsocket.socket()\n", "pass\n"]) == [False, True]


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare --net needs CAP_SYS_ADMIN")
def test_programs_get_a_network_namespace_with_only_a_loopback_here() -> None:
    # This machine's root has CAP_SYS_ADMIN; the chart's non-root pods get () instead.
    runner = SandboxRunner(sandbox_config())
    assert runner.wrapper == ("unshare", "--net")
    devices = "[line.split(':')[0].strip() for line in open('/proc/self/net/dev')][2:]"
    assert runner.run_one(f"assert {devices} == ['lo'], {devices}\n") is True


def test_an_interpreter_that_cannot_run_programs_fails_at_start() -> None:
    with pytest.raises(SandboxError, match="KISEKI_SANDBOX_PYTHON"):
        SandboxRunner(sandbox_config(python="/nonexistent/python3"))
    with pytest.raises(SandboxError):
        SandboxRunner(sandbox_config(python="/nonexistent/python3"), wrapper=())
