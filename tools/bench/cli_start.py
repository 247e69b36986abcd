"""Start-up of the command line: `kiseki --help` and a store-reading command (`kiseki runs` on
an empty chDB store), each as a whole process, against the eager start it replaced (every
command module imported before parsing), in paired rounds. Target: <= 0.5 s plus own work.

Prints one JSON object: per command the median seconds of the lazy and the eager start and
their ratio.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 7
EAGER = (
    "import importlib, sys\n"
    "from kiseki.cli import COMMANDS, main\n"
    "for module, _ in COMMANDS.values():\n"
    "    importlib.import_module(module)\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
LAZY = "import sys\nfrom kiseki.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _seconds(script: str, argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'services'}:{REPO / 'tools'}"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *argv], env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):  # 2: `kiseki runs` says the empty store has no runs
        raise RuntimeError(f"kiseki {argv} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as store:
        commands = {"--help": ["--help"], "runs": ["runs", "--store", f"chdb:{store}"]}
        _seconds(LAZY, commands["runs"])  # the store's first schema is not start-up
        result: dict[str, object] = {"bench": "cli_start", "rounds": ROUNDS}
        for name, argv in commands.items():
            lazy, eager = [], []
            for _ in range(ROUNDS):
                lazy.append(_seconds(LAZY, argv))
                eager.append(_seconds(EAGER, argv))
            lazy_s, eager_s = statistics.median(lazy), statistics.median(eager)
            result[name] = {
                "lazy_s": round(lazy_s, 3),
                "eager_s": round(eager_s, 3),
                "ratio": round(lazy_s / eager_s, 3),
                "target_s": 0.5,
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
