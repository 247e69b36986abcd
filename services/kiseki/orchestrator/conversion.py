"""The conversion stage: a checkpoint the endpoints cannot serve as it is (Megatron-LM,
DeepSpeed, NeMo 2) becomes a HuggingFace checkpoint first, each conversion in a process of its
own (`python -m kiseki.conversion`) here, a Job of its own on Kubernetes (kube_conversion), so
a crash or an OOM kill fails one checkpoint, never the orchestrator.

The copy is `<conversion_dir>/<checkpoint_id>`, renamed there by the converter only when whole:
a restarted orchestrator reuses a finished one and never sees a half-written one (a dead
process's `*.partial-PID` is swept at start).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
from pathlib import Path
from typing import Protocol

from kiseki.conversion.formats import FLAGS, failure_reason
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)


class ConversionFailed(RuntimeError):
    """The message is the FAILED status's reason."""


def _die_with_parent() -> list[str]:
    """An orchestrator killed outright takes its conversions along (their partial output is
    swept at the next start) instead of leaving orphans that convert a second time.
    util-linux's setpriv sets the signal without a preexec_fn, which threads make unsafe."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL"] if setpriv else []


def needs_conversion(checkpoint: ev.CheckpointDiscovered) -> bool:
    return checkpoint.format in FLAGS


class CheckpointConverter(Protocol):
    """Where and how conversions run: a process here, a Kubernetes Job on a cluster."""

    async def start(self) -> None: ...

    async def convert(self, checkpoint: ev.CheckpointDiscovered) -> ev.CheckpointDiscovered:
        """The checkpoint as the HF copy the endpoints load; ConversionFailed says why not."""
        ...

    async def discard(self, checkpoint_id: str) -> None: ...


def served_copy(checkpoint: ev.CheckpointDiscovered, uri: str) -> ev.CheckpointDiscovered:
    served = ev.CheckpointDiscovered()
    served.CopyFrom(checkpoint)
    served.uri, served.format = uri, ev.CHECKPOINT_FORMAT_HF
    return served


class ProcessConverter:
    def __init__(self, directory: Path, python: str, slots: int, timeout_s: float) -> None:
        self.directory, self.python, self.timeout_s = directory, python, timeout_s
        self._slots = asyncio.Semaphore(slots)
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for partial in self.directory.glob("*.partial-*"):
            shutil.rmtree(partial, ignore_errors=True)

    def path(self, checkpoint_id: str) -> Path:
        return self.directory / checkpoint_id

    async def convert(self, checkpoint: ev.CheckpointDiscovered) -> ev.CheckpointDiscovered:
        """The checkpoint as the HF copy the endpoints load (converted now or before)."""
        destination = self.path(checkpoint.checkpoint_id)
        lock = self._locks.setdefault(checkpoint.checkpoint_id, asyncio.Lock())
        async with lock:
            if not destination.is_dir():
                async with self._slots:
                    await self._run(checkpoint, destination)
        return served_copy(checkpoint, str(destination))

    async def _run(self, checkpoint: ev.CheckpointDiscovered, destination: Path) -> None:
        command = [*_die_with_parent(), self.python, "-m", "kiseki.conversion"]
        command += [checkpoint.uri, str(destination)]
        command += ["--format", FLAGS[checkpoint.format]]
        if checkpoint.tokenizer_uri:
            command += ["--tokenizer", checkpoint.tokenizer_uri]
        log.info("conversion started", extra={"checkpoint_id": checkpoint.checkpoint_id})
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ConversionFailed(f"conversion took longer than {self.timeout_s:.0f} s") from None
        finally:
            if process.returncode is None:  # cancelled: the orchestrator is stopping
                process.kill()
        if process.returncode:
            raise ConversionFailed(_reason(process.returncode, stderr.decode(errors="replace")))

    async def discard(self, checkpoint_id: str) -> None:
        shutil.rmtree(self.path(checkpoint_id), ignore_errors=True)


def _reason(returncode: int, stderr: str) -> str:
    reason = failure_reason(stderr)
    if reason is not None:
        return reason
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return f"the conversion process was killed by {name} (out of memory?)"
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    return f"the conversion process exited with status {returncode}: {last[-500:]}"
