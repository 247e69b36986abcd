"""The Kubernetes deployer: one Triton service per checkpoint, as a KServe InferenceService or
a Deployment + Service, built from the typed models in kube_objects.

An endpoint is ready only when the resource says so (KServe: `Ready` true at the current
generation; Deployment: an available replica at the current generation) **and** Triton reports
every model ready over gRPC. Objects carry the run and checkpoint as labels, so after a restart
`start` finds them and `deploy` adopts an existing object instead of creating a second one.
With the TensorRT-LLM backend the engine-build Job runs first and gates the deployment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.deployer import DeployError
from kiseki.orchestrator.kserve_models import (
    KSERVE_GROUP,
    KSERVE_PLURAL_INFERENCESERVICE,
    as_manifest,
)
from kiseki.orchestrator.kube_pod import PORTS
from kiseki.orchestrator.kube_readiness import (
    ModelReadiness,
    TritonReadiness,
    deployment_ready,
    inference_service_ready,
    job_complete,
    poll,
)
from kiseki.orchestrator.kube_resources import run_configs
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.endpoints import Endpoint
from kiseki.serving.trtllm.build_job import job_name
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
GROUP, VERSION, PLURAL = KSERVE_GROUP, "v1beta1", KSERVE_PLURAL_INFERENCESERVICE


class KubernetesDeployer:
    def __init__(
        self,
        api: k8s.ApiClient,
        config: KubernetesConfig,
        trtllm: TrtllmConfig | None = None,
        readiness: ModelReadiness | None = None,
    ) -> None:
        self.config = config.validate()
        if config.backend == "trtllm" and trtllm is None:
            raise DeployError("the trtllm backend needs the KISEKI_TRTLLM_* settings")
        self.trtllm = trtllm
        self.readiness = readiness or TritonReadiness()
        self.core, self.apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        self.batch, self.custom = k8s.BatchV1Api(api), k8s.CustomObjectsApi(api)
        self.api = api  # shared with the conversion Jobs' converter
        self.adopted: dict[str, str] = {}  # checkpoint id -> object name, found at start

    async def start(self) -> None:
        """Find the objects a previous orchestrator left, keyed by their checkpoint."""
        for name, notes in await asyncio.to_thread(self._list_served):
            checkpoint_id = notes.get(objects.CHECKPOINT_LABEL)
            if checkpoint_id:
                self.adopted[checkpoint_id] = name
        if self.adopted:
            log.info("adopted inference services", extra={"checkpoints": sorted(self.adopted)})

    def _list_served(self) -> list[tuple[str, dict[str, str]]]:
        """(name, annotations) of every serving object of this install."""
        namespace, selector = self.config.namespace, objects.selector(self.config)
        if self.config.mode == "kserve":
            found: dict[str, Any] = self.custom.list_namespaced_custom_object(  # type: ignore[assignment]
                GROUP, VERSION, namespace, PLURAL, label_selector=selector
            )
            metas = [item["metadata"] for item in found["items"]]
            return [(str(meta["name"]), meta.get("annotations") or {}) for meta in metas]
        deployments = self.apps.list_namespaced_deployment(namespace, label_selector=selector)
        metadata = [d.metadata for d in deployments.items if d.metadata is not None]
        return [(str(meta.name), meta.annotations or {}) for meta in metadata]

    async def deploy(
        self, checkpoint: ev.CheckpointDiscovered, serving: ServingResources | None = None
    ) -> Endpoint:
        serving = serving or ServingResources()
        cfg, trtllm = run_configs(self.config, self.trtllm, serving)
        name = objects.object_name(checkpoint.checkpoint_id)
        try:
            if trtllm is not None:
                await self._build_engine(checkpoint, cfg, trtllm, serving)
            await asyncio.to_thread(self._create, checkpoint, cfg, trtllm, serving)
            await self._wait(lambda: self._resource_ready(name), self.config.ready_timeout_s, name)
            address = self._address(name)
            models = objects.model_names(cfg, checkpoint.checkpoint_id)
            await self._wait(
                lambda: self.readiness.ready(address, models), self.config.ready_timeout_s, name
            )
        except ApiException as error:
            await self.teardown(checkpoint.checkpoint_id)
            raise DeployError(
                f"Kubernetes refused {name}: {error.status} {error.reason}"
            ) from error
        except DeployError:
            await self.teardown(checkpoint.checkpoint_id)  # a FAILED checkpoint holds no GPU
            raise
        self.adopted[checkpoint.checkpoint_id] = name
        if trtllm is not None:
            return Endpoint(address, models[0], "trtllm", trtllm.checkpoint_dtype)
        return Endpoint(address, models[0], serving.backend or "hf", serving.dtype or "float32")

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

    def _create(
        self,
        checkpoint: ev.CheckpointDiscovered,
        cfg: KubernetesConfig,
        trtllm: TrtllmConfig | None,
        serving: ServingResources,
    ) -> None:
        """Create the objects; one that exists already (a restart, a retry) is adopted."""
        namespace = cfg.namespace
        if cfg.mode == "kserve":
            body = as_manifest(objects.inference_service(cfg, checkpoint, trtllm, serving))
            creations: list[Callable[[], object]] = [
                lambda: self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, body
                )
            ]
        else:
            deployment, service = objects.deployment(cfg, checkpoint, trtllm, serving)
            creations = [
                lambda: self.apps.create_namespaced_deployment(namespace, deployment),
                lambda: self.core.create_namespaced_service(namespace, service),
            ]
        for create in creations:
            try:
                create()
            except ApiException as error:
                if error.status != 409:
                    raise

    async def _resource_ready(self, name: str) -> bool:
        namespace = self.config.namespace
        if self.config.mode == "kserve":
            found: dict[str, Any] = await asyncio.to_thread(
                self.custom.get_namespaced_custom_object,  # type: ignore[arg-type]
                GROUP, VERSION, namespace, PLURAL, name,
            )  # fmt: skip
            ready, why = inference_service_ready(found)
            if not ready:
                log.debug("inference service not ready", extra={"name": name, "why": why})
            return ready
        deployment = await asyncio.to_thread(self.apps.read_namespaced_deployment, name, namespace)
        return deployment_ready(deployment)

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
        """Delete the checkpoint's objects (and its build Job); gone already is fine. Warm
        reuse is the local deployer's: each service here serves one checkpoint."""
        name = self.adopted.pop(checkpoint_id, objects.object_name(checkpoint_id))
        namespace = self.config.namespace
        background = k8s.V1DeleteOptions(propagation_policy="Background")
        deletions: list[Callable[[], object]]
        if self.config.mode == "kserve":
            deletions = [
                lambda: self.custom.delete_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, body=background
                )
            ]
        else:
            deletions = [
                lambda: self.apps.delete_namespaced_deployment(name, namespace, body=background),
                lambda: self.core.delete_namespaced_service(name, namespace),
            ]
        if self.trtllm is not None:
            job = job_name(checkpoint_id)
            deletions.append(
                lambda: self.batch.delete_namespaced_job(job, namespace, body=background)
            )
        for delete in deletions:
            try:
                await asyncio.to_thread(delete)
            except ApiException as error:
                if error.status != 404:
                    raise

    async def close(self) -> None:
        """Services outlive the orchestrator: a restart adopts them."""
