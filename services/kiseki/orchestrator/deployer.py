"""Where endpoints come from: one interface, the local Triton implementation here.

The Kubernetes deployer (KServe InferenceService or Deployment + Service) implements the same
interface on a cluster.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Protocol

from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.endpoints import Endpoint, EndpointLoadError, LocalEndpointManager
from kiseki.v1 import events_pb2 as ev

SERVABLE = {ev.CHECKPOINT_FORMAT_HF, ev.CHECKPOINT_FORMAT_HF_TRAINER}


class DeployError(RuntimeError):
    """The checkpoint cannot be served; the message is the FAILED status's reason."""


class Deployer(Protocol):
    async def start(self) -> None: ...

    async def deploy(
        self, checkpoint: ev.CheckpointDiscovered, serving: ServingResources | None = None
    ) -> Endpoint:
        """`serving`: the run's resources (ServingResources' None keys: the deployer's own)."""
        ...

    async def teardown(self, checkpoint_id: str) -> None: ...

    async def close(self) -> None: ...


class LocalTritonDeployer:
    """Each checkpoint becomes a model of one local tritonserver, named by its checkpoint id.
    Of a run's serving resources it honours the backend (hf, vllm) and the dtype; GPUs,
    memory and node placement are the cluster's."""

    def __init__(self, manager: LocalEndpointManager) -> None:
        self.manager = manager

    async def start(self) -> None:
        await self.manager.start()

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
        options = self.manager.options
        options = dataclasses.replace(
            options,
            backend=serving.backend or options.backend,
            dtype=serving.dtype or options.dtype,
        )
        try:
            path = Path(checkpoint.uri)
            return await self.manager.load(checkpoint.checkpoint_id, path, options)
        except (EndpointLoadError, TimeoutError) as error:
            raise DeployError(str(error)) from error

    async def teardown(self, checkpoint_id: str) -> None:
        if checkpoint_id in self.manager.loaded:
            await self.manager.unload(checkpoint_id)

    async def close(self) -> None:
        await self.manager.stop()
