"""The simulated cluster of tools/bench/scheduling.py: training runs writing checkpoints at
their cadence, endpoints that load and score at a rate set by model size, deploy failures,
and a simulated clock. The orchestrator's own Fleet records every state change and its
Scheduler (GpuPlanner) picks what starts; the baseline picks oldest-first, strictly FIFO."""

from __future__ import annotations

import functools
import heapq
import statistics
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from kiseki.orchestrator.ordering import is_log_spaced
from kiseki.orchestrator.state import Fleet
from kiseki.v1 import events_pb2 as ev

EPOCH_S = 1.8e9  # the simulated clock's zero, as wall time (the fleet's live window uses it)
LIVE_SPAN_S = 3 * 86_400.0  # the last three days of every run's training happen in the run
DATASETS, MODES, SAMPLES = 25, 2, 100  # per checkpoint: 25 datasets x 2 modes x 100 samples
FAILED_PERCENT = 3  # deploys that fail (a bad node, a corrupt shard), half-way through loading


@dataclass(frozen=True)
class Size:
    """One run: its endpoint (GPUs, load seconds, samples/s) and checkpoints (count, cadence)."""

    run_id: str
    gpus: int
    load_s: float
    samples_per_s: float
    checkpoints: int
    interval_s: float  # between checkpoints (1,000 steps)

    @functools.cached_property
    def last_step(self) -> int:
        return self.steps()[-1]

    def steps(self) -> list[int]:
        """The study's schedule: 0, 1..9, 10..90, 100..900, 1000, then every 1,000."""
        early = [s for s in range(1001) if is_log_spaced(s)]
        return (early + [1000 * k for k in range(2, self.checkpoints)])[: self.checkpoints]

    def written_at(self, step: int) -> float:
        """Seconds on the simulated clock; training ends at LIVE_SPAN_S."""
        return LIVE_SPAN_S - (self.last_step - step) / 1000 * self.interval_s


SIZES = (
    Size("llm-jp-3-150m", 1, 60, 400, 1017, 600),
    Size("llm-jp-3-440m", 1, 70, 300, 1017, 900),
    Size("llm-jp-3-980m", 1, 80, 220, 1017, 1200),
    Size("llm-jp-3-1.8b", 1, 100, 150, 1017, 1800),
    Size("llm-jp-3-3.7b", 1, 130, 90, 700, 2700),
    Size("llm-jp-3-7.2b", 1, 180, 50, 500, 3600),
    Size("llm-jp-3-13b", 2, 300, 35, 373, 5400),
    Size("llm-jp-3-172b", 8, 1200, 8, 373, 14_400),
)
BY_RUN = {size.run_id: size for size in SIZES}


def fails(checkpoint_id: str) -> bool:
    return zlib.crc32(checkpoint_id.encode()) % 100 < FAILED_PERCENT


@dataclass
class Outcome:
    appeared: dict[str, float] = field(default_factory=dict)
    first_score: dict[str, float] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)
    busy: list[tuple[float, float, int]] = field(default_factory=list)  # (from, to, GPUs)
    decision_cpu_s: list[float] = field(default_factory=list)
    progress: list[dict[str, float]] = field(default_factory=list)  # hourly, per run


Picker = Callable[[Fleet, float, int], list[ev.CheckpointDiscovered]]


class Simulation:
    def __init__(self, pick: Picker, gpus: int) -> None:
        self.pick, self.gpus, self.free = pick, gpus, gpus
        self.fleet, self.out = Fleet(), Outcome()
        self.events: list[tuple[float, int, str, str]] = []
        self.sequence = 0

    def _at(self, t: float, kind: str, checkpoint_id: str) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (t, self.sequence, kind, checkpoint_id))

    def _status(self, checkpoint_id: str, state: int, t: float) -> None:
        status = ev.CheckpointStatus(checkpoint_id=checkpoint_id, state=state)  # type: ignore[arg-type]
        status.changed_at.FromNanoseconds(int((EPOCH_S + t) * 1e9))
        self.fleet.apply_status(status)

    def _write(self, size: Size, step: int, t: float) -> None:
        """Written at `t`, or before the simulation (then discovered at its start)."""
        checkpoint_id, written = f"{size.run_id}/{step}", size.written_at(step)
        checkpoint = ev.CheckpointDiscovered(
            checkpoint_id=checkpoint_id, run_id=size.run_id, step=step
        )
        checkpoint.discovered_at.FromNanoseconds(int((EPOCH_S + written) * 1e9))
        self.fleet.add_checkpoint(checkpoint)
        self._status(checkpoint_id, ev.CHECKPOINT_STATE_DISCOVERED, t)
        if written > 0:
            self.out.appeared[checkpoint_id] = written

    def _handle(self, kind: str, checkpoint_id: str, t: float) -> None:
        run_id, step = checkpoint_id.rsplit("/", 1)
        size = BY_RUN[run_id]
        if kind == "write":
            self._write(size, int(step), t)
        elif kind == "ready":
            self._status(checkpoint_id, ev.CHECKPOINT_STATE_EVALUATING, t)
            self.out.first_score[checkpoint_id] = t + SAMPLES / size.samples_per_s
            self._at(t + DATASETS * MODES * SAMPLES / size.samples_per_s, "done", checkpoint_id)
        else:
            failed = kind == "failed"
            state = ev.CHECKPOINT_STATE_FAILED if failed else ev.CHECKPOINT_STATE_DONE
            self._status(checkpoint_id, state, t)
            self.free += size.gpus
            self.out.finished[checkpoint_id] = t

    def _start(self, t: float) -> None:
        started = time.process_time()
        picked = self.pick(self.fleet, EPOCH_S + t, self.free)
        self.out.decision_cpu_s.append(time.process_time() - started)
        for checkpoint in picked:
            size = BY_RUN[checkpoint.run_id]
            self.free -= size.gpus
            assert self.free >= 0, "the budget was exceeded"
            self._status(checkpoint.checkpoint_id, ev.CHECKPOINT_STATE_DEPLOYING, t)
            if fails(checkpoint.checkpoint_id):
                self._at(t + size.load_s / 2, "failed", checkpoint.checkpoint_id)
                self.out.busy.append((t, t + size.load_s / 2, size.gpus))
            else:
                self._at(t + size.load_s, "ready", checkpoint.checkpoint_id)
                work_s = size.load_s + DATASETS * MODES * SAMPLES / size.samples_per_s
                self.out.busy.append((t, t + work_s, size.gpus))

    def _sample(self) -> None:
        progress = self.fleet.progress()
        shares = {run: done / known for run, (done, known) in progress.items()}
        self.out.progress.append({run: shares.get(run, 0.0) for run in BY_RUN})

    def run(self) -> Outcome:
        for size in SIZES:
            for step in size.steps():
                self._at(max(size.written_at(step), 0.0), "write", f"{size.run_id}/{step}")
        next_sample = 0.0
        while self.events:
            t = self.events[0][0]
            while self.events and self.events[0][0] == t:
                _, _, kind, checkpoint_id = heapq.heappop(self.events)
                self._handle(kind, checkpoint_id, t)
            while next_sample <= t:
                self._sample()
                next_sample += 3600.0
            if self.free > 0:
                self._start(t)
        return self.out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def jain(shares: list[float]) -> float:
    """Jain's fairness index: 1 when every run has the same share, 1/n when one has it all."""
    total = sum(shares)
    return total * total / (len(shares) * sum(s * s for s in shares)) if total else 1.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
