"""When a checkpoint's service counts as ready: the resource's own status (KServe, Deployment,
the engine-build Job), and Triton's answer over gRPC."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import tritonclient.grpc.aio as triton_aio
from kubernetes import client as k8s
from tritonclient.utils import InferenceServerException

from kiseki.orchestrator.deployer import DeployError


class ModelReadiness(Protocol):
    async def ready(self, address: str, models: tuple[str, ...]) -> bool: ...


class TritonReadiness:
    """Asks the endpoint's Triton, over gRPC, whether every model is ready."""

    async def ready(self, address: str, models: tuple[str, ...]) -> bool:
        try:
            async with triton_aio.InferenceServerClient(address) as client:
                return all([await client.is_model_ready(model) for model in models])
        except InferenceServerException:
            return False  # not reachable yet: the Service has no ready endpoint


def inference_service_ready(found: dict[str, Any]) -> tuple[bool, str]:
    """KServe's verdict: the `Ready` condition true, for the current generation of the spec."""
    status, generation = found.get("status") or {}, found["metadata"]["generation"]
    if status.get("observedGeneration") != generation:
        return False, "not observed yet"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            ok = condition.get("status") == "True"
            return ok, "" if ok else str(condition.get("message") or condition.get("reason"))
    return False, "no Ready condition"


def deployment_ready(deployment: k8s.V1Deployment) -> bool:
    """An available replica, reported for the current generation of the spec."""
    status = deployment.status
    generation = deployment.metadata.generation if deployment.metadata else None
    if status is None or generation is None:
        return False
    current = (status.observed_generation or 0) >= generation
    return current and (status.available_replicas or 0) >= 1


def job_outcome(job: k8s.V1Job) -> tuple[bool, str | None]:
    """(finished, failure): (False, None) while it runs, (True, None) once it completed,
    (True, the Failed condition's message or reason) once it failed."""
    for condition in (job.status.conditions if job.status else None) or []:
        if condition.status != "True":
            continue
        if condition.type == "Complete":
            return True, None
        if condition.type == "Failed":
            return True, str(condition.message or condition.reason)
    return False, None


def job_complete(job: k8s.V1Job) -> bool:
    """True once the Job completed; DeployError with its reason once it failed."""
    finished, failure = job_outcome(job)
    if failure is not None:
        name = job.metadata.name if job.metadata else "the engine build"
        raise DeployError(f"engine build {name} failed: {failure}")
    return finished


async def poll(condition: Callable[[], Awaitable[bool]], timeout_s: float, poll_s: float) -> bool:
    """Whether `condition` came true within `timeout_s`, asked every `poll_s`."""
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll_s)
    return True
