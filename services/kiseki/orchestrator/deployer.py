"""Where endpoints come from: one interface, the local Triton implementation here.

The Kubernetes deployer (KServe InferenceService or Deployment + Service) implements the same
interface on a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Protocol

from prometheus_client import Counter

from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.endpoints import Endpoint, EndpointLoadError, LocalEndpointManager
from kiseki.serving.repository import ServingOptions
from kiseki.serving.swap import SWAP_VERIFIED, SwapRefused, check_swappable
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
SERVABLE = {ev.CHECKPOINT_FORMAT_HF, ev.CHECKPOINT_FORMAT_HF_TRAINER}
DEPLOYS = Counter(
    "kiseki_endpoint_deploys_total",
    "Checkpoints put on an endpoint: a cold load, or a warm model's weights swapped",
    ["how"],
)


class DeployError(RuntimeError):
    """The checkpoint cannot be served; the message is the FAILED status's reason."""


class Deployer(Protocol):
    async def start(self) -> None: ...

    async def deploy(
        self, checkpoint: ev.CheckpointDiscovered, serving: ServingResources | None = None
    ) -> Endpoint:
        """`serving`: the run's resources (ServingResources' None keys: the deployer's own)."""
        ...

    async def teardown(self, checkpoint_id: str, keep_warm: bool = False) -> None:
        """`keep_warm`: another checkpoint of the run waits, which may take over the endpoint
        by a weight swap (a deployer that cannot swap tears it down all the same)."""
        ...

    async def close(self) -> None: ...


class LocalTritonDeployer:
    """Each checkpoint is served by a model of one local tritonserver. Of a run's serving
    resources it honours the backend (hf, vllm) and the dtype; GPUs, memory and node placement
    are the cluster's.

    Warm reuse: a finished checkpoint's model whose run has more waiting stays loaded for
    `warm_idle_s`, and the next checkpoint of its architecture and tokenizer takes it over by a
    weight swap, proven by its fingerprint (serving/swap.py), instead of a cold load (HF 0.8 s
    vs 8.4 s here, vLLM 0.1 s vs 26 s: tools/bench/hot_swap.py). A cold load first unloads
    every idle model, so no more models are loaded than the budget's endpoints. The jobs carry
    the checkpoint the model must be serving, so a redelivered job of the previous checkpoint
    is refused by it."""

    def __init__(self, manager: LocalEndpointManager, warm_idle_s: float = 0.0) -> None:
        self.manager, self.warm_idle_s = manager, warm_idle_s
        self._serving: dict[str, str] = {}  # checkpoint id -> the model serving it
        self._idle: dict[str, float] = {}  # model -> when its checkpoint finished (monotonic)
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.manager.start()
        if self.warm_idle_s > 0 and (self._reaper is None or self._reaper.done()):
            self._reaper = asyncio.create_task(self._reap())

    def _options(self, serving: ServingResources) -> ServingOptions:
        options = self.manager.options
        return dataclasses.replace(
            options,
            backend=serving.backend or options.backend,
            dtype=serving.dtype or options.dtype,
        )

    async def deploy(
        self, checkpoint: ev.CheckpointDiscovered, serving: ServingResources | None = None
    ) -> Endpoint:
        if checkpoint.format not in SERVABLE:
            name = ev.CheckpointFormat.Name(checkpoint.format)
            raise DeployError(f"{name} checkpoints need conversion before the local Triton model")
        serving = serving or ServingResources()
        if serving.backend == "trtllm":
            raise DeployError(
                f"run {checkpoint.run_id}: serving.backend trtllm needs the kubernetes deployer"
                " (an engine built by a Job on a GPU node)"
            )
        options, path = self._options(serving), Path(checkpoint.uri)
        checkpoint_id = checkpoint.checkpoint_id
        serving_it = self._serving.get(checkpoint_id)
        try:
            if serving_it in self.manager.loaded:  # deployed again (its failed jobs retried)
                return await self.manager.load(serving_it, path, options)
            endpoint = await self._warm(path, options)
            if endpoint is None:
                await self._evict_idle()
                endpoint = await self.manager.load(self._fresh_name(checkpoint_id), path, options)
                DEPLOYS.labels("cold").inc()
        except (EndpointLoadError, TimeoutError) as error:
            raise DeployError(str(error)) from error
        self._serving[checkpoint_id] = endpoint.model_name
        return endpoint

    def _fresh_name(self, checkpoint_id: str) -> str:
        """The checkpoint id, unless a model of that name serves another checkpoint now."""
        taken, name, n = set(self.manager.loaded), checkpoint_id, 1
        while name in taken:
            n += 1
            name = f"{checkpoint_id}-{n}"
        return name

    async def _warm(self, checkpoint: Path, options: ServingOptions) -> Endpoint | None:
        """The endpoint of an idle model that took `checkpoint` by a swap, or None."""
        for name in list(self._idle):
            current = self.manager.loaded.get(name)
            if current is None or self.manager.options_of(name) != options:
                continue
            try:
                check_swappable(current, checkpoint, SWAP_VERIFIED.get(options.backend))
            except SwapRefused:
                continue
            del self._idle[name]  # before the swap's awaits: no other deploy takes it
            try:
                endpoint = await self.manager.swap(name, checkpoint)
            except (EndpointLoadError, TimeoutError) as error:
                # The manager unloaded it: a cold load serves the checkpoint instead.
                log.warning("weight swap failed; loading cold", extra={"error": str(error)})
                return None
            DEPLOYS.labels("swap").inc()
            return endpoint
        return None

    async def _evict_idle(self, older_than_s: float = 0.0) -> None:
        now = time.monotonic()
        for name, since in list(self._idle.items()):
            if now - since >= older_than_s and self._idle.pop(name, None) is not None:
                await self.manager.unload(name)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.warm_idle_s))
            try:
                await self._evict_idle(self.warm_idle_s)
            except Exception:  # the next round tries again
                log.exception("unloading an idle model failed")

    async def teardown(self, checkpoint_id: str, keep_warm: bool = False) -> None:
        name = self._serving.pop(checkpoint_id, checkpoint_id)
        if name not in self.manager.loaded:
            return
        if keep_warm and self.warm_idle_s > 0:
            self._idle[name] = time.monotonic()
        else:
            await self.manager.unload(name)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self.manager.stop()
