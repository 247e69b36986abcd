"""Runs kiseki's services as local processes: restarts the ones that crash, stops all cleanly.

Each service is a real process (`python -m kiseki.<service>`), exactly as in a pod; the
supervisor only starts, watches and stops them. A crash-looping service is restarted with a
growing delay, so a poison input can never spin the machine; one that had run longer than the
longest delay was not looping, and starts again from the shortest delay (as Kubernetes resets
a container's back-off after it ran well).
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiseki.local.process import ManagedProcess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def module(cls, name: str, module: str, env: Mapping[str, str]) -> ServiceSpec:
        return cls(name, [sys.executable, "-m", module], env)


@dataclass
class _Running:
    spec: ServiceSpec
    process: ManagedProcess
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    crashes_in_a_row: int = 0


class Supervisor:
    def __init__(
        self, specs: Sequence[ServiceSpec], log_dir: Path, max_delay_s: float = 30.0
    ) -> None:
        self.log_dir, self.max_delay_s = log_dir, max_delay_s
        self._running = {spec.name: _Running(spec, self._launch(spec)) for spec in specs}

    def _launch(self, spec: ServiceSpec) -> ManagedProcess:
        return ManagedProcess(spec.name, spec.argv, self.log_dir / f"{spec.name}.log", env=spec.env)

    def restarts(self) -> dict[str, int]:
        return {name: running.restarts for name, running in self._running.items()}

    def process(self, name: str) -> ManagedProcess:
        return self._running[name].process

    def check(self) -> list[str]:
        """Restart the services that exited (after their back-off); return their names."""
        restarted, now = [], time.monotonic()
        for name, running in self._running.items():
            if running.process.alive():
                continue
            if running.next_start == 0.0:
                if now - running.started_at > self.max_delay_s:
                    running.crashes_in_a_row = 0
                delay = min(self.max_delay_s, 0.5 * 2**running.crashes_in_a_row)
                running.next_start = now + delay
                log.warning(
                    "service exited; restarting",
                    extra={"service": name, "in_s": delay, "log": str(running.process.log_path)},
                )
            if now >= running.next_start:
                running.process.stop(grace_s=0)
                running.process = self._launch(running.spec)
                running.restarts += 1
                running.crashes_in_a_row += 1
                running.next_start, running.started_at = 0.0, time.monotonic()
                restarted.append(name)
        return restarted

    def stop(self, grace_s: float = 25.0) -> None:
        """SIGTERM everything at once, then wait; SIGKILL what outlives `grace_s`."""
        for running in self._running.values():
            running.process.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for running in self._running.values():
            running.process.stop(grace_s=max(0.0, deadline - time.monotonic()))
