"""The chaos run: the local stack evaluates many checkpoints while services are killed.

Checkpoints are cheap copies (hard links) of a few real tiny-GPT checkpoints under many step
directories, each moved into the run root whole; the dataset is tiny, so the run exercises
the kill and recovery machinery rather than the model. A victim is chosen at random among
every service, tritonserver and the broker (Apache Kafka: its log is on disk, so a killed
broker comes back with its records, as a replicated cluster would) and sent SIGKILL or
SIGTERM. The supervisor restarts services; the run restarts the broker it owns.

The run guarantees its own conditions instead of depending on the system's speed: the
simulated training writes checkpoints until the kills are done (at least `min_kills`, and
every victim `kills_per_victim` times, with both signals once that is two or more), and each
kill records the lifecycle phases in flight when it landed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiseki.local.brokers import LocalBroker, start_apache_kafka
from kiseki.stack.stack import LocalStack, StackSettings, WatchedDir

RUN = "chaos"
DATASET = "chaos_nli"
SAMPLES = 4
# The run's modes: both that a labelled dataset takes (the gold mode would add a third job).
MODES = ("generate", "loglikelihood")
SERVICES = ("watcher", "orchestrator", "runner-0", "runner-1", "sink")
VICTIMS = (*SERVICES, "tritonserver", "broker")
SIGNALS = ("SIGKILL", "SIGTERM")


@dataclass(frozen=True)
class ChaosForm:
    name: str
    checkpoints: int  # at least; more are written while kills are still owed
    min_kills: int
    kills_per_victim: int
    write_interval_s: float
    kill_interval_s: tuple[float, float]
    timeout_s: float


SHORT = ChaosForm("short", 8, 7, 1, 1.0, (4.0, 8.0), 240.0)
# 8 rounds of the 7 victims: 56 kills, each victim 4 times each way.
LONG = ChaosForm("long", 200, 56, 8, 2.0, (8.0, 20.0), 3300.0)
# The phases a long run's kills must have landed in (STORING: results the sink has not
# committed yet).
LONG_PHASES = frozenset({"DISCOVERED", "DEPLOYING", "EVALUATING", "STORING"})


def write_dataset(root: Path) -> Path:
    """One two-label dataset, so both scoring modes apply: SAMPLES rows per mode."""
    pairs = [
        ("前提：赤い魚。\n仮説：魚は赤い。", "entailment"),
        ("前提：青い空。\n仮説：空は赤い。", "contradiction"),
    ]
    samples = [{"input": pairs[i % 2][0], "output": pairs[i % 2][1]} for i in range(SAMPLES)]
    document = {
        "instruction": "entailment、contradictionの中から回答してください。",
        "output_length": 2,
        "metrics": ["exact_match"],
        "label_list": ["entailment", "contradiction"],
        "few_shots": [],
        "samples": samples,
    }
    for split in ("train", "test"):
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / f"{DATASET}.json").write_text(json.dumps(document, ensure_ascii=False))
    return root


def place_checkpoint(source: Path, staging: Path, run_root: Path, step: int) -> None:
    """Hard-link `source`'s files into checkpoint-<step>, own trainer_state, moved in whole."""
    directory = staging / f"checkpoint-{step}"
    directory.mkdir(parents=True)
    for item in source.iterdir():
        if item.is_file() and item.name != "trainer_state.json":
            os.link(item, directory / item.name)
    state = {"global_step": step, "num_input_tokens_seen": step * 1000}
    (directory / "trainer_state.json").write_text(json.dumps(state))
    directory.rename(run_root / directory.name)


def stack_settings(workdir: Path, run_root: Path, bootstrap: str) -> StackSettings:
    """The local stack the chaos and soak runs drive: two runners, two endpoints, two shards."""
    return StackSettings(
        workdir=workdir / "stack",
        runs=[WatchedDir(RUN, run_root, 1000)],
        policy={
            "budget": {"max_endpoints": 2},
            "runs": {
                "*": {
                    "suites": [DATASET],
                    "scoring_modes": list(MODES),
                    "num_few_shots": 0,
                    "shards": 2,
                }
            },
        },
        datasets_dir=write_dataset(workdir / "datasets"),
        runners=2,
        bootstrap=bootstrap,
        environment={
            "KISEKI_WATCH_QUIET_PERIOD_S": "0.5",
            "KISEKI_WATCH_POLL_INTERVAL_S": "0.5",
            "KISEKI_KAFKA_SESSION_TIMEOUT_MS": "6000",
            "KISEKI_STOP_GRACE_S": "8",
            # Runners outwait a restart of tritonserver or of the orchestrator (which
            # starts a new one and loads its models again): about two minutes on a busy
            # 2-core machine. The default (six tries, about 16 s) suits a cluster, where
            # endpoints do not die with the orchestrator.
            "KISEKI_RUNNER_MAX_ATTEMPTS": "9",
        },
    )


def tritonserver_pid(stack: LocalStack) -> int | None:
    """The orchestrator's tritonserver, from the state file it keeps; None when not running."""
    state = stack.settings.workdir / "orchestrator" / "tritonserver.json"
    try:
        pid = int(json.loads(state.read_text())["pid"])
        alive = b"tritonserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return None
    return pid if alive else None


@dataclass
class Kill:
    at_s: float
    victim: str
    signal: str
    phases: list[str] = field(default_factory=list)


@dataclass
class ChaosRun:
    form: ChaosForm
    workdir: Path
    sources: list[Path]
    seed: int = int(os.environ.get("KISEKI_CHAOS_SEED", "0"))
    kills: list[Kill] = field(default_factory=list)
    broker: LocalBroker | None = None
    stack: LocalStack | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.run_root = self.workdir / "run"
        self.started = time.monotonic()
        self._written = threading.Event()
        self.written = 0
        # Each victim's first signal: half the victims each way, so one round has both.
        half = len(VICTIMS) // 2
        firsts = [SIGNALS[0]] * half + [SIGNALS[1]] * (len(VICTIMS) - half)
        self._signals = dict(zip(self.rng.sample(VICTIMS, len(VICTIMS)), firsts, strict=True))

    @property
    def port(self) -> int:
        assert self.broker is not None
        return int(self.broker.bootstrap_servers.rsplit(":", 1)[1])

    def start(self) -> LocalStack:
        self.run_root.mkdir(parents=True, exist_ok=True)
        self.broker = start_apache_kafka(self.workdir / "kafka")
        self.stack = LocalStack(
            stack_settings(self.workdir, self.run_root, self.broker.bootstrap_servers)
        )
        self.stack.start()
        threading.Thread(target=self._write_checkpoints, daemon=True).start()
        return self.stack

    def _write_checkpoint(self) -> None:
        step = self.written
        source = self.sources[step % len(self.sources)]
        place_checkpoint(source, self.workdir / "staging", self.run_root, step)
        self.written = step + 1

    def _write_checkpoints(self) -> None:
        for _ in range(self.form.checkpoints):
            self._write_checkpoint()
            time.sleep(self.form.write_interval_s)  # the training's pace, not a wait
        self._written.set()

    def kills_done(self) -> bool:
        per_victim = Counter(k.victim for k in self.kills)
        both = {(k.victim, k.signal) for k in self.kills}
        signals_needed = SIGNALS if self.form.kills_per_victim >= 2 else SIGNALS[:0]
        return (
            len(self.kills) >= self.form.min_kills
            and all(per_victim[v] >= self.form.kills_per_victim for v in VICTIMS)
            and all((v, s) in both for v in VICTIMS for s in signals_needed)
        )

    @property
    def all_written(self) -> bool:
        return self._written.is_set()

    def tritonserver_pid(self) -> int | None:
        assert self.stack is not None
        return tritonserver_pid(self.stack)

    def stray_tritonservers(self) -> list[int]:
        """tritonserver processes serving from this run's directories."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"tritonserver" in cmdline and str(self.workdir).encode() in cmdline:
                found.append(int(proc.name))
        return found

    def kill(self, victim: str, signum: int, phases: list[str] | None = None) -> bool:
        """Send `signum` to `victim`; False when it was not running (nothing was killed)."""
        assert self.stack is not None
        assert self.stack.supervisor is not None
        if victim == "broker":
            self._restart_broker(signum)
        elif victim == "tritonserver":
            pid = self.tritonserver_pid()
            if pid is None:
                return False
            os.killpg(pid, signum)  # the server and its Python-backend stubs, as a pod dies
        else:
            process = self.stack.supervisor.process(victim)
            if not process.alive():
                return False
            process.signal(signum)
        name = signal.Signals(signum).name
        at_s = round(time.monotonic() - self.started, 1)
        self.kills.append(Kill(at_s, victim, name, sorted(phases or [])))
        return True

    def _restart_broker(self, signum: int) -> None:
        assert self.broker is not None
        port, process = self.port, self.broker.process
        process.signal(signum)
        deadline = time.monotonic() + 60
        while process.alive() and time.monotonic() < deadline:
            self.check()
            time.sleep(0.2)
        process.stop(grace_s=0)
        self.broker = start_apache_kafka(self.workdir / "kafka", port=port)

    def check(self) -> None:
        assert self.stack is not None
        self.stack.check()

    def _rounds(self) -> Iterator[tuple[str, int]]:
        """Every victim once per round in a random order; each victim's signal alternates
        from a random first one, so two rounds hit every victim both ways."""
        while True:
            for victim in self.rng.sample(VICTIMS, len(VICTIMS)):
                name = self._signals[victim]
                self._signals[victim] = SIGNALS[1 - SIGNALS.index(name)]
                yield victim, signal.Signals[name]

    def unleash(self, finished: Callable[[], bool], phases: Callable[[], list[str]]) -> None:
        """Kill at random intervals until the kills are done and the training has written its
        checkpoints, keeping the supervisor's restarts going between kills. While kills are
        owed and every checkpoint written is `finished`, the training writes one more, so
        the stack always has work when a kill lands; `phases` says what is in flight then."""
        next_kill = time.monotonic() + self.rng.uniform(*self.form.kill_interval_s)
        rounds = self._rounds()
        victim, signum = next(rounds)
        while not (self.kills_done() and self.all_written):
            self.check()
            if self.all_written and not self.kills_done() and finished():
                self._write_checkpoint()
            if time.monotonic() >= next_kill and self.kill(victim, signum, phases()):
                next_kill = time.monotonic() + self.rng.uniform(*self.form.kill_interval_s)
                victim, signum = next(rounds)
            time.sleep(0.2)

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.broker is not None:
            self.broker.stop()


def copy_sources(checkpoints: dict[int, Path], into: Path) -> list[Path]:
    """Private copies of the session's checkpoints (the run hard-links their files)."""
    copies = []
    for step, path in sorted(checkpoints.items()):
        target = into / f"source-{step}"
        shutil.copytree(path, target)
        copies.append(target)
    return copies
