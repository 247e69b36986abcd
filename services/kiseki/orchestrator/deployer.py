"""Where endpoints come from: one interface, the local Triton implementation here.

The Kubernetes deployer (KServe InferenceService or Deployment + Service) implements the same
interface on a cluster.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Protocol

from prometheus_client import Counter

from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.orchestrator.warm import Idle, WarmPool
from kiseki.serving.endpoints import Endpoint, EndpointLoadError, LocalEndpointManager
from kiseki.serving.repository import ServingOptions
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
SERVABLE = {ev.CHECKPOINT_FORMAT_HF, ev.CHECKPOINT_FORMAT_HF_TRAINER}
DEPLOYS = Counter(
    "kiseki_endpoint_deploys_total",
    "Checkpoints put on an endpoint: a cold load, a warm model's weights swapped, or a warm"
    " model reused as it is (the same weights)",
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
    resources it honours the backend (hf, vllm), the dtype and vLLM's cores; GPUs, memory and
    node placement are the cluster's.

    Warm reuse: a finished checkpoint's model whose run has more waiting stays loaded for
    `warm_idle_s`, and the next checkpoint of its architecture and tokenizer takes it over by a
    weight swap, proven by its fingerprint (serving/swap.py), instead of a cold load (HF 0.8 s
    vs 8.4 s here, vLLM 0.1 s vs 26 s: tools/bench/hot_swap.py). A cold load first unloads
    every idle model, so no more models are loaded than the budget's endpoints. The jobs carry
    the checkpoint the model must be serving, so a redelivered job of the previous checkpoint
    is refused by it. A checkpoint whose weights are the idle model's own (byte for byte) takes
    it as it is: a swap would leave the fingerprint unchanged."""

    def __init__(self, manager: LocalEndpointManager, warm_idle_s: float = 0.0) -> None:
        self.manager, self.warm = manager, WarmPool(warm_idle_s)
        self._serving: dict[str, str] = {}  # checkpoint id -> the model serving it

    async def start(self) -> None:
        await self.manager.start()
        self.warm.start_reaper(lambda idle: self.manager.unload(idle.key))

    def _options(self, serving: ServingResources) -> ServingOptions:
        options = self.manager.options
        return dataclasses.replace(
            options,
            backend=serving.backend or options.backend,
            dtype=serving.dtype or options.dtype,
            vllm_threads_bind=serving.vllm_threads or options.vllm_threads_bind,
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
        """The endpoint of an idle model that now serves `checkpoint`, or None."""
        loaded = self.manager.loaded
        taken = await self.warm.take(checkpoint, options, lambda idle: idle.key in loaded)
        if taken is None:
            return None
        name = taken.idle.key
        if taken.same_weights:  # its jobs expect the weights' own checkpoint: the same values
            DEPLOYS.labels("reuse").inc()
            return await self.manager.load(name, taken.idle.serves, options)
        try:
            endpoint = await self.manager.swap(name, checkpoint)
        except (EndpointLoadError, TimeoutError) as error:
            # The manager unloaded it: a cold load serves the checkpoint instead.
            log.warning("weight swap failed; loading cold", extra={"error": str(error)})
            return None
        DEPLOYS.labels("swap").inc()
        return endpoint

    async def _evict_idle(self) -> None:
        for idle in self.warm.expired():
            await self.manager.unload(idle.key)

    async def teardown(self, checkpoint_id: str, keep_warm: bool = False) -> None:
        name = self._serving.pop(checkpoint_id, checkpoint_id)
        serves, options = self.manager.loaded.get(name), self.manager.options_of(name)
        if serves is None or options is None:
            return
        if keep_warm and self.warm.enabled:
            self.warm.keep(Idle(name, "", serves, options.backend, options))
        else:
            self.warm.forget(name)
            await self.manager.unload(name)

    async def close(self) -> None:
        await self.warm.close()
        await self.manager.stop()
