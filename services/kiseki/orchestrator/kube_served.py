"""The serving objects of one install on the API server: a checkpoint's Deployment + Service
or InferenceService (and its engine-build Job), listed, created, patched, read and deleted."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kserve_models import (
    KSERVE_GROUP,
    KSERVE_PLURAL_INFERENCESERVICE,
    as_manifest,
)
from kiseki.orchestrator.kube_readiness import deployment_ready, inference_service_ready
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

log = logging.getLogger(__name__)
GROUP, VERSION, PLURAL = KSERVE_GROUP, "v1beta1", KSERVE_PLURAL_INFERENCESERVICE


class ServedObjects:
    def __init__(self, api: k8s.ApiClient, config: KubernetesConfig) -> None:
        self.config = config
        self.core, self.apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        self.batch, self.custom = k8s.BatchV1Api(api), k8s.CustomObjectsApi(api)

    def list(self) -> list[tuple[str, dict[str, str]]]:
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

    def create(
        self,
        checkpoint: ev.CheckpointDiscovered,
        cfg: KubernetesConfig,
        trtllm: TrtllmConfig | None,
        serving: ServingResources,
        name: str,
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
            deployment, service = objects.deployment(cfg, checkpoint, trtllm, serving, name)
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

    async def ready(self, name: str) -> bool:
        """Whether the resource's own status says ready (kube_readiness)."""
        namespace = self.config.namespace
        if self.config.mode == "kserve":
            found: dict[str, Any] = await asyncio.to_thread(
                self.custom.get_namespaced_custom_object,  # type: ignore[arg-type]
                GROUP, VERSION, namespace, PLURAL, name,
            )  # fmt: skip
            ready, why = inference_service_ready(found)
            if not ready:
                log.debug("inference service not ready", extra={"object": name, "why": why})
            return ready
        deployment = await asyncio.to_thread(self.apps.read_namespaced_deployment, name, namespace)
        return deployment_ready(deployment)

    def patch(self, name: str, body: dict[str, Any]) -> None:
        """Merge-patch the metadata of the Deployment `name` and its Service (Deployment mode:
        the pod template is left alone, so nothing rolls)."""
        namespace = self.config.namespace
        self.apps.patch_namespaced_deployment(name, namespace, body)
        self.core.patch_namespaced_service(name, namespace, body)

    async def delete(self, name: str, job: str = "") -> None:
        """Delete the objects `name` (and the build Job `job`); gone already is fine."""
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
        if job:
            deletions.append(
                lambda: self.batch.delete_namespaced_job(job, namespace, body=background)
            )
        for delete in deletions:
            try:
                await asyncio.to_thread(delete)
            except ApiException as error:
                if error.status != 404:
                    raise
