"""The conversion stage on Kubernetes: a Job per checkpoint (conversion_job), gated like the
engine build. The orchestrator mounts the conversion PVC at the Jobs' path, so a copy there is
a finished conversion (renamed only when whole) and is reused without asking the API server;
a Job still running from before (a restart) is adopted by its name, one that finished before is
replaced; a failed Job's reason, as its pod's last log lines say it, becomes the checkpoint's
FAILED reason."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.conversion.formats import failure_reason
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.conversion import ConversionFailed, served_copy
from kiseki.orchestrator.conversion_job import (
    CONTAINER,
    conversion_job,
    conversion_job_name,
    converted_uri,
)
from kiseki.orchestrator.kube_readiness import job_outcome, poll
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"  # on a Job's pods, by its controller


class KubernetesConverter:
    def __init__(
        self, api: k8s.ApiClient, config: KubernetesConfig, slots: int, timeout_s: float
    ) -> None:
        self.config, self.timeout_s = config, timeout_s
        self.batch, self.core = k8s.BatchV1Api(api), k8s.CoreV1Api(api)
        self._slots = asyncio.Semaphore(slots)
        self._locks: dict[str, asyncio.Lock] = {}

    async def start(self) -> None:
        """Nothing to sweep: a Job outlives the orchestrator and is adopted, partial copy too."""

    async def convert(self, checkpoint: ev.CheckpointDiscovered) -> ev.CheckpointDiscovered:
        if not self.config.conversion_claim:
            raise ConversionFailed(
                "KISEKI_K8S_CONVERSION_CLAIM names no PVC: the chart's conversion.existingClaim"
                " is needed for Megatron-LM / DeepSpeed / NeMo 2 checkpoints"
            )
        uri = converted_uri(self.config, checkpoint.checkpoint_id)
        lock = self._locks.setdefault(checkpoint.checkpoint_id, asyncio.Lock())
        async with lock:
            if not await asyncio.to_thread(Path(uri).is_dir):
                async with self._slots:
                    try:
                        await self._run(checkpoint, Path(uri))
                    except ApiException as error:
                        raise ConversionFailed(
                            f"Kubernetes refused the conversion of {checkpoint.checkpoint_id}:"
                            f" {error.status} {error.reason}"
                        ) from error
        return served_copy(checkpoint, uri)

    async def _run(self, checkpoint: ev.CheckpointDiscovered, destination: Path) -> None:
        namespace, name = self.config.namespace, conversion_job_name(checkpoint.checkpoint_id)
        await self._create(checkpoint, name)
        failure: list[tuple[str, str]] = []  # the Failed condition's message, the Job's uid

        async def finished() -> bool:
            found = await asyncio.to_thread(self.batch.read_namespaced_job, name, namespace)
            done, why = job_outcome(found)
            if why is not None:
                failure.append((why, str(found.metadata.uid if found.metadata else "")))
            return done

        if not await poll(finished, self.timeout_s, self.config.poll_s):
            await self._delete_job(name)
            raise ConversionFailed(f"conversion Job {name} took longer than {self.timeout_s:.0f} s")
        if failure:
            await asyncio.to_thread(self._sweep, destination)
            why, uid = failure[0]
            reason = await asyncio.to_thread(self._pod_reason, uid)
            raise ConversionFailed(reason or f"conversion Job {name} failed: {why}")
        if not await asyncio.to_thread(destination.is_dir):
            raise ConversionFailed(
                f"conversion Job {name} completed but {destination} is not there: is"
                " KISEKI_K8S_CONVERSION_CLAIM mounted at KISEKI_K8S_CONVERSION_MOUNT here?"
            )

    async def _create(self, checkpoint: ev.CheckpointDiscovered, name: str) -> None:
        """Create the Job, or adopt the one still running from before a restart. One that
        finished before is stale (its copy is not there): a failed Job stays for its TTL, a
        day, and adopted it would fail every retry in that day the same way without running."""
        namespace = self.config.namespace
        job = conversion_job(self.config, checkpoint, self.timeout_s)
        try:
            await asyncio.to_thread(self.batch.create_namespaced_job, namespace, job)
        except ApiException as error:
            if error.status != 409:
                raise
            found = await asyncio.to_thread(self.batch.read_namespaced_job, name, namespace)
            if not job_outcome(found)[0]:
                return  # running: adopted
            await self._delete_job(name)
            await poll(lambda: self._gone(name), self.timeout_s, self.config.poll_s)
            await asyncio.to_thread(self.batch.create_namespaced_job, namespace, job)
            log.info("finished conversion job replaced", extra={"job": name})
            return
        log.info("conversion job created", extra={"job": name})

    async def _gone(self, name: str) -> bool:
        try:
            await asyncio.to_thread(self.batch.read_namespaced_job, name, self.config.namespace)
        except ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    def _pod_reason(self, uid: str) -> str | None:
        """`conversion failed: REASON` from the termination message of the Job's pods (by the
        Job's uid: a replaced Job's pods, not yet collected, share its name)."""
        pods = self.core.list_namespaced_pod(
            self.config.namespace, label_selector=f"{CONTROLLER_UID_LABEL}={uid}"
        )
        for pod in pods.items:
            for status in (pod.status.container_statuses if pod.status else None) or []:
                terminated = status.state.terminated if status.state else None
                if status.name == CONTAINER and terminated is not None and terminated.message:
                    reason = failure_reason(terminated.message)
                    if reason is not None:
                        return reason
        return None

    def _sweep(self, destination: Path) -> None:
        for partial in destination.parent.glob(f"{destination.name}.partial-*"):
            shutil.rmtree(partial, ignore_errors=True)

    async def _delete_job(self, name: str) -> None:
        background = k8s.V1DeleteOptions(propagation_policy="Background")
        try:
            await asyncio.to_thread(
                self.batch.delete_namespaced_job, name, self.config.namespace, body=background
            )
        except ApiException as error:
            if error.status != 404:
                raise

    async def discard(self, checkpoint_id: str) -> None:
        """Delete the copy (and any partial one) and the finished Job."""
        destination = Path(converted_uri(self.config, checkpoint_id))
        await asyncio.to_thread(self._sweep, destination)
        await asyncio.to_thread(shutil.rmtree, destination, ignore_errors=True)
        await self._delete_job(conversion_job_name(checkpoint_id))
