"""The code-execution sandbox's child as a chaos victim: a whole code_exec job (the mbpp-like
fixture) whose one slow program is killed from outside mid-job (SIGKILL as the OOM killer
sends it, SIGTERM as a drain does) or stopped (SIGSTOP: hung, spending no CPU, so only the
wall-clock limit ends it). That sample scores 0, the others score as they would have, the job
ends at once rather than at the limit, and nothing of the program is left running."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.evaluation.metrics.code_exec import install_code_runner
from kiseki.evaluation.pipeline import Scored, load_task, score_recorded
from kiseki.evaluation.settings import EvalSettings
from kiseki.sandbox.runner import SandboxRunner
from support.polling import poll_until
from support.sandbox import sandbox_config

DATASETS = Path(__file__).resolve().parent.parent / "fixtures" / "mbpp_tiny"
OUTPUTS = [
    "def add(a, b):\n    return a + b",  # passes
    "def biggest(xs):\n    return xs[0]",  # fails one test
    "def flip(s):\n    import time\n    time.sleep(120)\n    return s[::-1]",  # the victim
    "def fact(n):\n    return 1 if n == 0 else n * fact(n - 1)",  # passes
]


def sandbox_children() -> list[int]:
    """This process's sandboxed programs (`unshare --net` execs into the interpreter)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(") ", 1)[1].split()[1])
        if parent == os.getpid() and b"kiseki/sandbox/child.py" in cmdline:
            found.append(int(proc.name))
    return found


def _age_s(pid: int) -> float:
    try:
        ticks = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0.0
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def _in_group(group: int) -> list[int]:
    members = []
    for proc in Path("/proc").iterdir():
        try:
            fields = (proc / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == group:
            members.append(int(proc.name))
    return members


@pytest.fixture
def runner_for() -> Iterator[type[SandboxRunner]]:
    yield SandboxRunner
    install_code_runner(None)


@pytest.mark.parametrize(
    ("signum", "wall_s", "within_s"),
    [(signal.SIGKILL, 300.0, 60.0), (signal.SIGTERM, 300.0, 60.0), (signal.SIGSTOP, 8.0, 60.0)],
    ids=["SIGKILL", "SIGTERM", "SIGSTOP"],
)
def test_a_program_killed_mid_job_scores_0_and_the_job_goes_on(
    runner_for: type[SandboxRunner], signum: signal.Signals, wall_s: float, within_s: float
) -> None:
    # cpu_s: the victim sleeps and spends none; the wall-clock limit is the one at stake.
    install_code_runner(runner_for(sandbox_config(wall_s=wall_s, cpu_s=5, workers=4)))
    task = load_task(DATASETS, "mbpp_tiny", EvalSettings(num_few_shots=1))
    done: list[tuple[list[Scored], dict[str, float]]] = []
    started = time.monotonic()
    job = threading.Thread(target=lambda: done.append(score_recorded(task, OUTPUTS)))
    job.start()
    seen: set[int] = set()

    def the_sleeper() -> list[int]:
        """The one program still running once all four have started (a quick one may come
        and go between two looks: then the one running for seconds)."""
        alive = sandbox_children()
        seen.update(alive)
        if len(alive) != 1 or (len(seen) < len(OUTPUTS) and _age_s(alive[0]) < 5):
            return []
        return alive

    [victim] = poll_until(the_sleeper, timeout_s=60, interval_s=0.01)
    os.kill(victim, signum)
    job.join(timeout=within_s + 60)
    assert done, "the job did not finish"
    scored, scores = done[0]
    assert [s.metrics for s in scored] == [{"code_exec": v} for v in (1.0, 0.0, 0.0, 1.0)]
    assert scores["code_exec"] == 0.5
    assert time.monotonic() - started < within_s
    assert sandbox_children() == []
    assert _in_group(victim) == []  # its session killed as a whole
