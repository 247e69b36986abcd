"""The Kubernetes objects that serve one checkpoint, as typed models (kubernetes, kserve).

Every serving pod is the same in both modes: an init container writes the Triton model
repository for the checkpoint into an emptyDir (kiseki's HF model, or the TensorRT-LLM
ensemble around a built engine), then tritonserver serves it on 8000 (HTTP), 8001 (gRPC) and
8002 (metrics). The checkpoint volume is mounted read-only at the path the watcher saw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re

from kubernetes import client as k8s

from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kserve_models import (
    V1beta1InferenceService,
    V1beta1InferenceServiceSpec,
    V1beta1PredictorSpec,
)
from kiseki.serving.trtllm.build_job import label_value
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

MANAGER = "kiseki-orchestrator"
COMPONENT = "inference"
RUN_LABEL, CHECKPOINT_LABEL = "kiseki.dev/run-id", "kiseki.dev/checkpoint-id"
# gRPC first: KServe exposes a predictor's first container port as its Service's port 80.
PORTS = {"grpc": 8001, "http": 8000, "metrics": 8002}
KSERVE_SERVICE_PORT = 80
MODELS_DIR, ENGINES_DIR = "/models", "/engines"
TRITON_UID = 1000  # the triton-server user of NVIDIA's Triton images
TRTLLM_MODELS = ("ensemble", "loglikelihood")
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


def identity(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, **annotations: str
) -> k8s.V1ObjectMeta:
    labels = {
        "app.kubernetes.io/name": "kiseki",
        "app.kubernetes.io/component": COMPONENT,
        "app.kubernetes.io/managed-by": MANAGER,
        "app.kubernetes.io/instance": cfg.instance,
        RUN_LABEL: label_value(checkpoint.run_id),
        CHECKPOINT_LABEL: label_value(checkpoint.checkpoint_id),
    }
    # Labels may be cut to 63 characters; annotations keep the exact identities.
    annotations |= {RUN_LABEL: checkpoint.run_id, CHECKPOINT_LABEL: checkpoint.checkpoint_id}
    return k8s.V1ObjectMeta(
        name=object_name(checkpoint.checkpoint_id), labels=labels, annotations=annotations
    )


def trtllm_settings(trtllm: TrtllmConfig, checkpoint: ev.CheckpointDiscovered) -> TrtllmConfig:
    """The engine of one checkpoint: its own directory on the engine volume."""
    return dataclasses.replace(
        trtllm,
        checkpoint_dir=checkpoint.uri,
        tokenizer_dir=checkpoint.uri,
        engine_dir=f"{ENGINES_DIR}/{object_name(checkpoint.checkpoint_id)}",
    )


def _env(settings: TrtllmConfig) -> list[k8s.V1EnvVar]:
    """The TensorRT-LLM settings as the variables `kiseki trtllm-repo` reads."""
    return [
        k8s.V1EnvVar(name=field.metadata["env"], value=str(getattr(settings, field.name)))
        for field in dataclasses.fields(settings)
    ]


def _repository_writer(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, trtllm: TrtllmConfig | None
) -> k8s.V1Container:
    if trtllm is None:
        command = ["python3", "-m", "kiseki.serving.repository", "--out", MODELS_DIR]
        command += ["--name", checkpoint.checkpoint_id, "--checkpoint", checkpoint.uri]
        command += ["--gpu"] if cfg.gpus else []
        env: list[k8s.V1EnvVar] = []
    else:
        command = ["python3", "-m", "kiseki", "trtllm-repo", "--out", MODELS_DIR]
        env = _env(trtllm_settings(trtllm, checkpoint))
    return k8s.V1Container(
        name="model-repository",
        image=cfg.repository_image,
        command=command,
        env=env,
        volume_mounts=[k8s.V1VolumeMount(name="models", mount_path=MODELS_DIR)],
        resources=k8s.V1ResourceRequirements(
            requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"}
        ),
        security_context=hardened(),
    )


def hardened() -> k8s.V1SecurityContext:
    return k8s.V1SecurityContext(
        run_as_non_root=True,
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
    )


def _probe(path: str, failures: int) -> k8s.V1Probe:
    return k8s.V1Probe(
        http_get=k8s.V1HTTPGetAction(path=path, port="http"),
        period_seconds=10,
        failure_threshold=failures,
    )


def _triton(cfg: KubernetesConfig, mounts: list[k8s.V1VolumeMount]) -> k8s.V1Container:
    resources: dict[str, str] = {"cpu": cfg.cpu, "memory": cfg.memory}
    limits: dict[str, str] = {"memory": cfg.memory}
    if cfg.gpus:
        resources["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(cfg.gpus)
    return k8s.V1Container(
        name="kserve-container",  # the name KServe expects for a predictor's main container
        image=cfg.serving_image,
        command=["tritonserver", f"--model-repository={MODELS_DIR}"]
        + [f"--{name}-port={port}" for name, port in PORTS.items()],
        ports=[
            k8s.V1ContainerPort(name="h2c" if name == "grpc" else name, container_port=port)
            for name, port in PORTS.items()
        ],
        resources=k8s.V1ResourceRequirements(requests=resources, limits=limits),
        volume_mounts=mounts,
        # Loading a large checkpoint takes minutes: readiness says when, liveness waits.
        startup_probe=_probe("/v2/health/live", failures=180),
        readiness_probe=_probe("/v2/health/ready", failures=3),
        liveness_probe=_probe("/v2/health/live", failures=6),
        security_context=hardened(),
    )


def _volumes(cfg: KubernetesConfig) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount]]:
    def claim(name: str, claim_name: str) -> k8s.V1Volume:
        source = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim_name, read_only=True)
        return k8s.V1Volume(name=name, persistent_volume_claim=source)

    volumes = [
        claim("checkpoints", cfg.checkpoint_claim),
        k8s.V1Volume(name="models", empty_dir=k8s.V1EmptyDirVolumeSource()),
        k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
        # The Python backend and NCCL exchange tensors through shared memory.
        k8s.V1Volume(name="shm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory")),
    ]
    mounts = [
        k8s.V1VolumeMount(name="checkpoints", mount_path=cfg.checkpoint_mount, read_only=True),
        k8s.V1VolumeMount(name="models", mount_path=MODELS_DIR, read_only=True),
        k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
        k8s.V1VolumeMount(name="shm", mount_path="/dev/shm"),
    ]
    if cfg.backend == "trtllm":
        volumes.append(claim("engines", cfg.engine_claim))
        mounts.append(k8s.V1VolumeMount(name="engines", mount_path=ENGINES_DIR, read_only=True))
    return volumes, mounts


def pod_spec(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, trtllm: TrtllmConfig | None
) -> k8s.V1PodSpec:
    volumes, mounts = _volumes(cfg)
    return k8s.V1PodSpec(
        init_containers=[_repository_writer(cfg, checkpoint, trtllm)],
        containers=[_triton(cfg, mounts)],
        volumes=volumes,
        automount_service_account_token=False,  # Triton never talks to the API server
        node_selector=cfg.node_selector_map or None,
        tolerations=[k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
        if cfg.gpus
        else None,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=TRITON_UID,
            run_as_group=TRITON_UID,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )


def deployment(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, trtllm: TrtllmConfig | None
) -> tuple[k8s.V1Deployment, k8s.V1Service]:
    meta = identity(cfg, checkpoint)
    match = {
        CHECKPOINT_LABEL: label_value(checkpoint.checkpoint_id),
        "app.kubernetes.io/instance": cfg.instance,
    }
    template = k8s.V1PodTemplateSpec(
        metadata=k8s.V1ObjectMeta(labels=meta.labels, annotations=meta.annotations),
        spec=pod_spec(cfg, checkpoint, trtllm),
    )
    spec = k8s.V1DeploymentSpec(
        replicas=1, selector=k8s.V1LabelSelector(match_labels=match), template=template
    )
    ports = [
        k8s.V1ServicePort(name=name, port=port, target_port=port, app_protocol=None)
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
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, trtllm: TrtllmConfig | None
) -> V1beta1InferenceService:
    meta = identity(
        cfg, checkpoint, **{"serving.kserve.io/deploymentMode": cfg.kserve_deployment_mode}
    )
    pod = pod_spec(cfg, checkpoint, trtllm)
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
