"""The Kubernetes objects that serve one checkpoint, as typed models (kubernetes, kserve):
names and identity labels, the pod of kube_pod wrapped as a Deployment + Service or as a
KServe InferenceService, and the TensorRT-LLM engine-build Job that comes first."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any

from kubernetes import client as k8s

from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kserve_models import (
    V1beta1InferenceService,
    V1beta1InferenceServiceSpec,
    V1beta1PredictorSpec,
)
from kiseki.orchestrator.kube_pod import PORTS, pod_spec, trtllm_settings
from kiseki.orchestrator.kube_resources import tolerations
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.trtllm.build_job import BuildVolumes, engine_build_job, label_value
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

MANAGER = "kiseki-orchestrator"
COMPONENT = "inference"
RUN_LABEL, CHECKPOINT_LABEL = "kiseki.dev/run-id", "kiseki.dev/checkpoint-id"
# The object's own name: its pods' label, so a Service never selects another object's pod
# (an object kept warm keeps the pods of the checkpoint that created it).
ENDPOINT_LABEL = "kiseki.dev/endpoint"
# Annotations of a serving object: its Triton model (named after the checkpoint that created
# it), the checkpoint path whose weights it serves (a warm object swaps), and since when it
# waits idle for the next checkpoint of its run (wall clock, ISO 8601; absent: serving).
MODEL_ANNOTATION, SERVES_ANNOTATION = "kiseki.dev/model", "kiseki.dev/serves"
IDLE_ANNOTATION = "kiseki.dev/idle-since"
KSERVE_SERVICE_PORT = 80
TRTLLM_MODELS = ("kiseki", "tensorrt_llm", "loglikelihood")
_NAME_UNSAFE = re.compile(r"[^a-z0-9-]+")


def object_name(checkpoint_id: str) -> str:
    """A DNS-1123 name unique per checkpoint; 45 characters leave room for KServe's suffixes.

    An id that is not already a clean short name gets a hash of itself, so two ids that clean
    or cut to the same text still get different names."""
    cleaned = _NAME_UNSAFE.sub("-", checkpoint_id.lower()).strip("-")
    name = f"kiseki-{cleaned}"
    if cleaned != checkpoint_id or len(name) > 45:
        digest = hashlib.sha256(checkpoint_id.encode()).hexdigest()[:8]
        name = f"kiseki-{cleaned[:28]}".rstrip("-") + f"-{digest}"
    return name


def model_names(cfg: KubernetesConfig, checkpoint_id: str) -> tuple[str, ...]:
    """The Triton models that must be ready; the first is the one runners call."""
    return TRTLLM_MODELS if cfg.backend == "trtllm" else (checkpoint_id,)


def selector(cfg: KubernetesConfig) -> str:
    """Label selector of every object this orchestrator's install created."""
    return (
        f"app.kubernetes.io/managed-by={MANAGER},app.kubernetes.io/instance={cfg.instance},"
        f"app.kubernetes.io/component={COMPONENT}"
    )


def identity_labels(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, component: str = COMPONENT
) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "kiseki",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGER,
        "app.kubernetes.io/instance": cfg.instance,
        RUN_LABEL: label_value(checkpoint.run_id),
        CHECKPOINT_LABEL: label_value(checkpoint.checkpoint_id),
    }


def identity_annotations(checkpoint: ev.CheckpointDiscovered) -> dict[str, str]:
    """Labels may be cut to 63 characters; annotations keep the exact identities."""
    return {RUN_LABEL: checkpoint.run_id, CHECKPOINT_LABEL: checkpoint.checkpoint_id}


def identity(
    cfg: KubernetesConfig,
    checkpoint: ev.CheckpointDiscovered,
    name: str = "",
    **annotations: str,
) -> k8s.V1ObjectMeta:
    """`name`: the object's (default: the checkpoint's object_name)."""
    served = {
        MODEL_ANNOTATION: checkpoint.checkpoint_id,
        SERVES_ANNOTATION: str(PurePosixPath(checkpoint.uri)),
    }
    return k8s.V1ObjectMeta(
        name=name or object_name(checkpoint.checkpoint_id),
        labels=identity_labels(cfg, checkpoint),
        annotations=annotations | served | identity_annotations(checkpoint),
    )


def relabelled(checkpoint: ev.CheckpointDiscovered, serves: str) -> dict[str, Any]:
    """The merge patch that hands a warm object to `checkpoint` (its weights: `serves`)."""
    return {
        "metadata": {
            "labels": {CHECKPOINT_LABEL: label_value(checkpoint.checkpoint_id)},
            "annotations": identity_annotations(checkpoint)
            | {SERVES_ANNOTATION: serves, IDLE_ANNOTATION: None},
        }
    }


def deployment(
    cfg: KubernetesConfig,
    checkpoint: ev.CheckpointDiscovered,
    trtllm: TrtllmConfig | None,
    serving: ServingResources | None = None,
    name: str = "",
) -> tuple[k8s.V1Deployment, k8s.V1Service]:
    """`name`: the objects' (default: the checkpoint's object_name)."""
    meta = identity(cfg, checkpoint, name)
    match = {
        CHECKPOINT_LABEL: label_value(checkpoint.checkpoint_id),
        "app.kubernetes.io/instance": cfg.instance,
        ENDPOINT_LABEL: str(meta.name),
    }
    template = k8s.V1PodTemplateSpec(
        metadata=k8s.V1ObjectMeta(
            labels=identity_labels(cfg, checkpoint) | match, annotations=meta.annotations
        ),
        spec=pod_spec(cfg, checkpoint, trtllm, object_name(checkpoint.checkpoint_id), serving),
    )
    spec = k8s.V1DeploymentSpec(
        replicas=1, selector=k8s.V1LabelSelector(match_labels=match), template=template
    )
    ports = [
        k8s.V1ServicePort(
            name=name,
            port=port,
            target_port=port,
            app_protocol="kubernetes.io/h2c" if name == "grpc" else None,
        )
        for name, port in PORTS.items()
    ]
    service = k8s.V1Service(
        api_version="v1",
        kind="Service",
        metadata=meta,
        spec=k8s.V1ServiceSpec(selector=match, ports=ports),
    )
    return k8s.V1Deployment(
        api_version="apps/v1", kind="Deployment", metadata=meta, spec=spec
    ), service


def inference_service(
    cfg: KubernetesConfig,
    checkpoint: ev.CheckpointDiscovered,
    trtllm: TrtllmConfig | None,
    serving: ServingResources | None = None,
) -> V1beta1InferenceService:
    meta = identity(
        cfg, checkpoint, "", **{"serving.kserve.io/deploymentMode": cfg.kserve_deployment_mode}
    )
    pod = pod_spec(cfg, checkpoint, trtllm, str(meta.name), serving)
    predictor = V1beta1PredictorSpec(
        min_replicas=1,
        max_replicas=1,
        labels=meta.labels,
        init_containers=pod.init_containers,
        containers=pod.containers,
        volumes=pod.volumes,
        automount_service_account_token=False,
        node_selector=pod.node_selector,
        tolerations=pod.tolerations,
        security_context=pod.security_context,
    )
    return V1beta1InferenceService(
        api_version="serving.kserve.io/v1beta1",
        kind="InferenceService",
        metadata=meta,
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )


def build_job(
    cfg: KubernetesConfig,
    trtllm: TrtllmConfig,
    checkpoint: ev.CheckpointDiscovered,
    serving: ServingResources | None = None,
) -> k8s.V1Job:
    """The checkpoint's engine-build Job, writing where its serving pod will read the engine."""
    engine = object_name(checkpoint.checkpoint_id)
    # A converted checkpoint lives on the conversion PVC, any other on the checkpoints' PVC.
    claim, mount = cfg.checkpoint_claim, cfg.checkpoint_mount
    if cfg.conversion_claim and PurePosixPath(checkpoint.uri).is_relative_to(cfg.conversion_mount):
        claim, mount = cfg.conversion_claim, cfg.conversion_mount
    claims = BuildVolumes(
        checkpoint_claim=claim,
        engine_claim=cfg.engine_claim,
        checkpoint_subpath=checkpoint.uri.removeprefix(mount).strip("/"),
        engine_subpath=engine,
        source_claim=cfg.trtllm_source_claim,
    )
    settings = trtllm_settings(trtllm, checkpoint, engine)
    job = engine_build_job(settings, checkpoint.run_id, checkpoint.checkpoint_id, claims)
    pod = job.spec.template.spec if job.spec and job.spec.template else None
    if pod is not None:
        pod.node_selector = cfg.node_selector_map or None  # where the engine will be served
        pod.tolerations = tolerations(trtllm.tensor_parallel, serving or ServingResources())
    if job.metadata is not None and job.metadata.labels is not None:
        job.metadata.labels |= {
            "app.kubernetes.io/managed-by": MANAGER,
            "app.kubernetes.io/instance": cfg.instance,
        }
    return job
