"""A sandboxed program's own process: it limits itself, then runs the program read from stdin.

Started as `python -I -S -B child.py CPU_S MEMORY_BYTES FILE_BYTES PROCESSES UID` (UID -1
keeps the user): isolated from the environment and from site-packages, so only the standard
library is imported here. Exit status 0 means the program ran to its end; an exception or
`sys.exit` in it, a limit's signal or the parent's kill is anything else.
"""

from __future__ import annotations

import os
import resource
import sys
import traceback


def _limit(cpu_s: int, memory_bytes: int, file_bytes: int, processes: int) -> None:
    limits = (
        # SIGXCPU at the soft limit, SIGKILL a second later should it be caught.
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),
        (resource.RLIMIT_AS, memory_bytes, memory_bytes),
        (resource.RLIMIT_FSIZE, file_bytes, file_bytes),
        (resource.RLIMIT_NPROC, processes, processes),
        (resource.RLIMIT_CORE, 0, 0),
    )
    for which, soft, hard in limits:
        resource.setrlimit(which, (soft, hard))


def _become(uid: int) -> None:
    """Root is exempt from RLIMIT_NPROC and may write anywhere: give the program a nobody."""
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _guard(event: str, args: tuple[object, ...]) -> None:
    # An audit hook cannot be removed from inside the interpreter; native code (ctypes) could
    # still get around it, which is why RLIMIT_FSIZE, the read-only working directory and the
    # network namespace (or the pod's NetworkPolicy) stay.
    if event.startswith("socket."):
        raise PermissionError(f"no network in the sandbox ({event})")
    if event == "open" and isinstance(args[2], int) and args[2] & _WRITING:
        raise PermissionError(f"no file writing in the sandbox ({args[0]!r})")


def main(argv: list[str]) -> int:
    cpu_s, memory_bytes, file_bytes, processes, uid = (int(value) for value in argv)
    source = sys.stdin.read()
    _limit(cpu_s, memory_bytes, file_bytes, processes)
    _become(uid)
    sys.addaudithook(_guard)
    # Not "__main__": llm-jp-eval exec()s the code inside its own module, where a
    # `if __name__ == "__main__":` block does not run.
    namespace = {"__name__": "__sandbox__", "__builtins__": __builtins__}
    try:
        exec(compile(source, "<generated>", "exec"), namespace)
    except BaseException:  # a SystemExit before the asserts must not pass as success
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
