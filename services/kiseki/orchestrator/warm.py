"""Warm reuse, the part every deployer shares: which idle endpoint the next checkpoint takes.

A finished checkpoint's endpoint whose run has more waiting stays up for `idle_s`; the next
checkpoint of its architecture and tokenizer, deployed with the same options, takes it over
(serving/swap.py decides, off the event loop: it reads config files and may compare weights).
The deployer does the swap itself (a local model, a pod's tritonserver) and drops what
nobody took: after `idle_s`, or all of it before a cold deploy needs the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiseki.serving.swap import SWAP_VERIFIED, SwapRefused, plan_swap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Idle:
    """An endpoint kept warm: `key` is the deployer's handle (a model, an object name)."""

    key: str
    run_id: str
    serves: Path  # the checkpoint whose weights it holds
    backend: str  # hf, vllm: whose swap is known good for which architectures
    options: object  # what it was deployed with; a taker must want the same
    since: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Taken:
    idle: Idle
    same_weights: bool  # the new checkpoint's weights are the served ones: no swap needed


class WarmPool:
    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._idle: dict[str, Idle] = {}
        self._reaper: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self.idle_s > 0

    def keys(self) -> set[str]:
        return set(self._idle)

    def keep(self, idle: Idle) -> None:
        self._idle[idle.key] = idle

    def forget(self, key: str) -> Idle | None:
        return self._idle.pop(key, None)

    async def take(
        self,
        checkpoint: Path,
        options: object,
        fits: Callable[[Idle], bool] = lambda idle: True,
    ) -> Taken | None:
        """An idle endpoint that can serve `checkpoint` (now out of the pool), or None."""
        for idle in list(self._idle.values()):
            if idle.options != options or not fits(idle):
                continue
            verified = SWAP_VERIFIED.get(idle.backend)
            try:
                same = await asyncio.to_thread(plan_swap, idle.serves, checkpoint, verified)
            except SwapRefused as refused:
                log.debug("not swappable", extra={"endpoint": idle.key, "why": str(refused)})
                continue
            if self._idle.pop(idle.key, None) is None:
                continue  # another deploy took it while the files were read
            return Taken(idle, same)
        return None

    def expired(self, older_than_s: float = 0.0) -> list[Idle]:
        """The endpoints idle at least `older_than_s`, out of the pool (0: every one)."""
        now = time.monotonic()
        gone = [idle for idle in self._idle.values() if now - idle.since >= older_than_s]
        for idle in gone:
            del self._idle[idle.key]
        return gone

    def start_reaper(self, drop: Callable[[Idle], Awaitable[None]]) -> None:
        """Drop each endpoint nobody took within `idle_s`."""
        if self.enabled and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.create_task(self._reap(drop))

    async def _reap(self, drop: Callable[[Idle], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_s))
            for idle in self.expired(self.idle_s):
                try:
                    await drop(idle)
                except Exception:  # the object or model stays; a cold deploy tries again
                    log.exception("dropping idle endpoint %s failed", idle.key)
                    self.keep(idle)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
