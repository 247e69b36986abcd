"""The Kubernetes deployer: one Triton service per checkpoint, as a KServe InferenceService or
a Deployment + Service, built from the typed models in kube_objects.

An endpoint is ready only when the resource says so (KServe: `Ready` true at the current
generation; Deployment: an available replica at the current generation) **and** Triton reports
every model ready over gRPC. Objects carry the run and checkpoint as labels, so after a restart
`start` finds them and `deploy` adopts an existing object instead of creating a second one.
With the TensorRT-LLM backend the engine-build Job runs first and gates the deployment.

Warm reuse (Deployment mode, kiseki's Python model): a finished checkpoint's Deployment whose
run has more waiting stays up for `warm_idle_s`, annotated idle; the next checkpoint of the
run with the same architecture, tokenizer and serving resources, on the same volume as the
served one (so its path is valid in the pod), takes it over: the pod's tritonserver swaps the
weights (SWAP_CHECKPOINT, proven by the fingerprint, as a local model does), and the objects
are relabelled with the new checkpoint, so a restarted orchestrator adopts them under it (and
deletes the idle ones). A failed swap deletes the objects and deploys cold. Not with KServe:
its controller may carry the InferenceService's labels into the predictor's pods, so a relabel
could roll the warm pod; nor with TensorRT-LLM: an engine is built for one checkpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.deployer import DEPLOYS, DeployError
from kiseki.orchestrator.kube_pod import PORTS
from kiseki.orchestrator.kube_readiness import (
    ModelReadiness,
    TritonReadiness,
    job_complete,
    poll,
)
from kiseki.orchestrator.kube_resources import run_configs
from kiseki.orchestrator.kube_served import ServedObjects
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.orchestrator.warm import Idle, WarmPool
from kiseki.serving.endpoints import Endpoint, swap_weights
from kiseki.serving.trtllm.build_job import job_name
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)


class KubernetesDeployer:
    def __init__(
        self,
        api: k8s.ApiClient,
        config: KubernetesConfig,
        trtllm: TrtllmConfig | None = None,
        readiness: ModelReadiness | None = None,
        warm_idle_s: float = 0.0,
        vllm_threads: str = "",
    ) -> None:
        """`vllm_threads`: vLLM's cores in each pod where the run's serving does not say."""
        self.config = config.validate()
        if config.backend == "trtllm" and trtllm is None:
            raise DeployError("the trtllm backend needs the KISEKI_TRTLLM_* settings")
        self.trtllm, self.vllm_threads = trtllm, vllm_threads
        self.readiness = readiness or TritonReadiness()
        self.objects = ServedObjects(api, self.config)
        self.batch = self.objects.batch  # the engine-build Jobs
        self.api = api  # shared with the conversion Jobs' converter
        self.adopted: dict[str, str] = {}  # checkpoint id -> object name, found at start
        self._notes: dict[str, dict[str, str]] = {}  # object name -> its annotations
        self._held: dict[str, Idle] = {}  # object name -> how it would wait warm
        self.warm = WarmPool(warm_idle_s if config.mode == "deployment" else 0.0)

    async def start(self) -> None:
        """Find the objects a previous orchestrator left, keyed by their checkpoint; delete
        the idle ones (no checkpoint waits on them now)."""
        for name, notes in await asyncio.to_thread(self.objects.list):
            checkpoint_id = notes.get(objects.CHECKPOINT_LABEL)
            if objects.IDLE_ANNOTATION in notes:
                await self._delete(name)
            elif checkpoint_id:
                self.adopted[checkpoint_id], self._notes[name] = name, notes
        if self.adopted:
            log.info("adopted inference services", extra={"checkpoints": sorted(self.adopted)})
        self.warm.start_reaper(lambda idle: self._delete(idle.key))

    async def deploy(
        self, checkpoint: ev.CheckpointDiscovered, serving: ServingResources | None = None
    ) -> Endpoint:
        serving = serving or ServingResources()
        if serving.vllm_threads is None and self.vllm_threads:
            serving = dataclasses.replace(serving, vllm_threads=self.vllm_threads)
        cfg, trtllm = run_configs(self.config, self.trtllm, serving)
        checkpoint_id = checkpoint.checkpoint_id
        name = self.adopted.get(checkpoint_id)
        if name is None and trtllm is None:
            endpoint = await self._take_warm(checkpoint, cfg, serving)
            if endpoint is not None:
                return endpoint
        if name is None:
            await self._drop_idle()  # a cold deploy: the idle objects' GPUs are the budget's
        created = name is None
        name = name or self._fresh_name(checkpoint_id, trtllm is None)
        self.adopted[checkpoint_id] = name  # what a failed deploy's teardown deletes
        try:
            if trtllm is not None:
                await self._build_engine(checkpoint, cfg, trtllm, serving)
            if created:
                self._notes[name] = {
                    objects.MODEL_ANNOTATION: checkpoint_id,
                    objects.SERVES_ANNOTATION: str(PurePosixPath(checkpoint.uri)),
                }
                await asyncio.to_thread(self.objects.create, checkpoint, cfg, trtllm, serving, name)
            await self._wait(lambda: self.objects.ready(name), self.config.ready_timeout_s, name)
            address = self._address(name)
            notes = self._notes.get(name, {})
            models = objects.model_names(cfg, notes.get(objects.MODEL_ANNOTATION, checkpoint_id))
            await self._wait(
                lambda: self.readiness.ready(address, models), self.config.ready_timeout_s, name
            )
        except ApiException as error:
            await self.teardown(checkpoint_id)
            raise DeployError(
                f"Kubernetes refused {name}: {error.status} {error.reason}"
            ) from error
        except DeployError:
            await self.teardown(checkpoint_id)  # a FAILED checkpoint holds no GPU
            raise
        if created:
            DEPLOYS.labels("cold").inc()
        if trtllm is not None:  # its front model serves one engine: no checkpoint to expect
            return Endpoint(address, models[0], "trtllm", trtllm.checkpoint_dtype)
        serves = notes.get(objects.SERVES_ANNOTATION, str(PurePosixPath(checkpoint.uri)))
        backend, dtype = serving.backend or "hf", serving.dtype or "float32"
        if cfg.mode == "deployment":
            self._held[name] = Idle(name, checkpoint.run_id, Path(serves), backend, (cfg, serving))
        return Endpoint(address, models[0], backend, dtype, serves)

    def _fresh_name(self, checkpoint_id: str, may_differ: bool) -> str:
        """The checkpoint's object_name, unless that object serves another checkpoint now
        (it took that one over warm); an engine's objects keep it (its build Job's name)."""
        base = objects.object_name(checkpoint_id)
        taken, name, n = set(self.adopted.values()) | self.warm.keys(), base, 1
        while may_differ and name in taken:
            n += 1
            name = f"{base}-{n}"
        return name

    def _mount_of(self, path: str) -> str | None:
        """The serving pod's volume mount that holds `path` (None: no volume does)."""
        cfg = self.config
        for mount in (cfg.conversion_mount if cfg.conversion_claim else "", cfg.checkpoint_mount):
            if mount and PurePosixPath(path).is_relative_to(mount):
                return mount
        return None

    async def _take_warm(
        self, checkpoint: ev.CheckpointDiscovered, cfg: KubernetesConfig, serving: ServingResources
    ) -> Endpoint | None:
        """The endpoint of an idle object of the run that now serves `checkpoint`, or None."""
        mount = self._mount_of(checkpoint.uri)
        if not self.warm.enabled or mount is None:
            return None

        def fits(idle: Idle) -> bool:
            return idle.run_id == checkpoint.run_id and self._mount_of(str(idle.serves)) == mount

        uri = PurePosixPath(checkpoint.uri)
        taken = await self.warm.take(Path(uri), (cfg, serving), fits)
        if taken is None:
            return None
        name, address = taken.idle.key, self._address(taken.idle.key)
        model = self._notes[name].get(objects.MODEL_ANNOTATION, name)
        serves = str(taken.idle.serves) if taken.same_weights else str(uri)
        try:
            if not taken.same_weights:
                timeout_s = self.config.ready_timeout_s
                problem = await swap_weights(address, model, Path(uri), timeout_s)
                if problem:
                    raise DeployError(problem)
            await asyncio.to_thread(
                self.objects.patch, name, objects.relabelled(checkpoint, serves)
            )
        except (DeployError, ApiException) as error:
            log.warning(
                "warm reuse failed; deploying cold", extra={"object": name, "error": str(error)}
            )
            await self._delete(name)
            return None
        DEPLOYS.labels("reuse" if taken.same_weights else "swap").inc()
        self.adopted[checkpoint.checkpoint_id] = name
        self._notes[name] |= {objects.SERVES_ANNOTATION: serves}
        self._held[name] = dataclasses.replace(taken.idle, serves=Path(serves))
        backend, dtype = serving.backend or "hf", serving.dtype or "float32"
        return Endpoint(address, model, backend, dtype, serves)

    async def _drop_idle(self) -> None:
        for idle in self.warm.expired():
            await self._delete(idle.key)

    def _address(self, name: str) -> str:
        kserve = self.config.mode == "kserve"
        return self.config.endpoint_address.format(
            service=f"{name}-predictor" if kserve else name,
            namespace=self.config.namespace,
            port=objects.KSERVE_SERVICE_PORT if kserve else PORTS["grpc"],
        )

    async def _wait(
        self, condition: Callable[[], Awaitable[bool]], timeout_s: float, name: str
    ) -> None:
        if not await poll(condition, timeout_s, self.config.poll_s):
            raise DeployError(f"{name} not ready within {timeout_s:.0f} s")

    async def _build_engine(
        self,
        checkpoint: ev.CheckpointDiscovered,
        cfg: KubernetesConfig,
        trtllm: TrtllmConfig,
        serving: ServingResources,
    ) -> None:
        """Run the engine-build Job (or adopt one) and wait for it to complete."""
        namespace, name = cfg.namespace, job_name(checkpoint.checkpoint_id)
        job = objects.build_job(cfg, trtllm, checkpoint, serving)
        try:
            await asyncio.to_thread(self.batch.create_namespaced_job, namespace, job)
        except ApiException as error:
            if error.status != 409:
                raise

        async def complete() -> bool:
            found = await asyncio.to_thread(self.batch.read_namespaced_job, name, namespace)
            return job_complete(found)

        await self._wait(complete, self.config.build_timeout_s, name)

    async def teardown(self, checkpoint_id: str, keep_warm: bool = False) -> None:
        """Delete the checkpoint's objects (and its build Job); gone already is fine. With
        `keep_warm` a Deployment of kiseki's model waits idle for the run's next checkpoint."""
        name = self.adopted.pop(checkpoint_id, objects.object_name(checkpoint_id))
        held = self._held.pop(name, None)
        if keep_warm and self.warm.enabled and held is not None:
            since = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            idle = {"metadata": {"annotations": {objects.IDLE_ANNOTATION: since}}}
            try:
                await asyncio.to_thread(self.objects.patch, name, idle)
                self.warm.keep(dataclasses.replace(held, since=time.monotonic()))
                return
            except ApiException as error:
                log.warning("cannot mark %s idle; deleting it", name, extra={"error": str(error)})
        self.warm.forget(name)
        await self._delete(name, job_name(checkpoint_id) if self.trtllm is not None else "")

    async def _delete(self, name: str, job: str = "") -> None:
        """Delete the objects `name` (and the build Job `job`); gone already is fine."""
        self._notes.pop(name, None)
        self._held.pop(name, None)
        await self.objects.delete(name, job)

    async def close(self) -> None:
        """Services outlive the orchestrator: a restart adopts them (and deletes idle ones)."""
        await self.warm.close()
