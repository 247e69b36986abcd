"""The sandbox's limits, read once from the environment by the task-runner."""

from __future__ import annotations

from dataclasses import dataclass

from kiseki.core.config import setting


@dataclass(frozen=True)
class SandboxConfig:
    cpu_s: int = setting(
        "KISEKI_SANDBOX_CPU_S",
        5,
        unit="CPU seconds",
        doc="CPU time per program (RLIMIT_CPU, then SIGKILL); an mbpp solution and its asserts"
        " take milliseconds, so only a runaway loop reaches it",
    )
    wall_s: float = setting(
        "KISEKI_SANDBOX_WALL_S",
        10.0,
        unit="seconds",
        doc="wall-clock time per program before its process group is killed: catches a"
        " program that sleeps or blocks, which spends no CPU time",
    )
    memory_bytes: int = setting(
        "KISEKI_SANDBOX_MEMORY_BYTES",
        512 * 1024 * 1024,
        unit="bytes",
        doc="address space per process (RLIMIT_AS); the interpreter starts in about 30 MB of"
        " it, and a runner runs `workers` programs at once",
    )
    file_bytes: int = setting(
        "KISEKI_SANDBOX_FILE_BYTES",
        0,
        unit="bytes",
        doc="largest file a program may write (RLIMIT_FSIZE; more is SIGXFSZ): tests compute"
        " and assert, they never need to write",
    )
    processes: int = setting(
        "KISEKI_SANDBOX_PROCESSES",
        8,
        unit="processes",
        doc="RLIMIT_NPROC: processes and threads of the program's user, all of them at once;"
        " bounds a fork bomb (as root the program first becomes `uid`, since root is exempt)",
    )
    workers: int = setting(
        "KISEKI_SANDBOX_WORKERS",
        2,
        unit="programs",
        doc="programs run at once; each is a Python start (about 20 ms) and a short run",
    )
    python: str = setting(
        "KISEKI_SANDBOX_PYTHON",
        "",
        doc="the interpreter programs run on (empty: the runner's own); only its standard"
        " library is used, and `uid` must be able to read it (a pyenv build under a root-only"
        " home is not: use the system's python3.11 there)",
    )
    uid: int = setting(
        "KISEKI_SANDBOX_UID",
        65534,
        unit="uid",
        doc="the user a program runs as when the runner is root (nobody): RLIMIT_NPROC does"
        " not bind root; a non-root runner (the chart's pods) keeps its own user",
    )
