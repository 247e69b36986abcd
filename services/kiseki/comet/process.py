"""The parent's side of the COMET child (worker.py): a CometScorer that starts the child with
another environment's python, waits for its model to load, and sends each job's segments as
one JSON line. The child loads its model once and serves every job of the runner's life; a
child that dies is a MetricUnavailable carrying the tail of its stderr (the job fails, the
runner goes on), and the next job starts a new child."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from kiseki.evaluation.metrics import MetricUnavailable

WORKER = Path(__file__).with_name("worker.py")
STDERR_TAIL = 2000  # characters: the exception and its last frames, not the loading logs


class CometProcess:
    """comet_wmt22's scorer in a child process; call `start` before the first job."""

    def __init__(
        self, python: Path, checkpoint: Path, batch_size: int, start_timeout_s: float
    ) -> None:
        self.python, self.checkpoint = python, checkpoint
        self.batch_size, self.start_timeout_s = batch_size, start_timeout_s
        self.gpus = 0
        self._child: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    def start(self) -> None:
        """Start the child and wait until its model is loaded; MetricUnavailable, with the
        child's stderr, when it cannot start or load."""
        self.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - open for the child's life
        # -I: the runner's PYTHONPATH (kiseki's packages) must not shadow the environment's.
        command = [str(self.python), "-I", str(WORKER), str(self.checkpoint), str(self.batch_size)]
        try:
            self._child = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
            )
        except OSError as error:
            raise MetricUnavailable(f"comet_wmt22: cannot start {self.python}: {error}") from None
        ready = self._receive(deadline=time.monotonic() + self.start_timeout_s)
        self.gpus = int(ready.get("gpus", 0))

    def __call__(
        self, sources: Sequence[str], predictions: Sequence[str], golds: Sequence[str]
    ) -> list[float]:
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self.start()
            request = {"src": list(sources), "mt": list(predictions), "ref": list(golds)}
            self._send(request)
            reply = self._receive(deadline=None)
        if "error" in reply:
            raise MetricUnavailable(f"comet_wmt22: the COMET process refused: {reply['error']}")
        return [float(score) for score in reply["scores"]]

    def close(self) -> None:
        """Stop the child (it also ends by itself when its stdin closes)."""
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            for pipe in (self._child.stdin, self._child.stdout):
                if pipe is not None:
                    pipe.close()
            self._child = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _send(self, request: dict[str, Any]) -> None:
        stdin, _ = self._pipes()
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _receive(self, deadline: float | None) -> dict[str, Any]:
        _, stdout = self._pipes()
        if deadline is not None:
            with selectors.DefaultSelector() as selector:
                selector.register(stdout, selectors.EVENT_READ)
                if not selector.select(max(0.0, deadline - time.monotonic())):
                    self._kill()
                    raise self._died(f"did not load its model in {self.start_timeout_s:g} s")
        line = stdout.readline()
        if not line:
            raise self._died()
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        child = self._child
        if child is None or child.stdin is None or child.stdout is None:
            raise MetricUnavailable("comet_wmt22: the COMET process was not started")
        return child.stdin, child.stdout

    def _kill(self) -> None:
        if self._child is not None:
            self._child.kill()

    def _died(self, why: str = "") -> MetricUnavailable:
        code = None if self._child is None else self._child.wait()
        tail = self._stderr_tail()
        self.close()
        reason = why or f"exited with {code}"
        return MetricUnavailable(
            f"comet_wmt22: the COMET process ({self.python} {self.checkpoint}) {reason};"
            f" its stderr ends: {tail}"
        )

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        size = self._stderr.seek(0, os.SEEK_END)
        self._stderr.seek(max(0, size - STDERR_TAIL))
        return self._stderr.read().decode(errors="replace").strip()
