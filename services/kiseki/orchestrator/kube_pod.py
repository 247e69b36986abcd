"""The pod that serves one checkpoint, the same in both serving modes.

An init container (the kiseki image) writes the Triton model repository for the checkpoint
into an emptyDir: kiseki's HF model, or the TensorRT-LLM ensemble around the engine a Job
built. Then tritonserver serves it on 8001 (gRPC), 8000 (HTTP) and 8002 (metrics). The
checkpoint volume is mounted read-only at the path the watcher saw, so the uri is valid.
"""

from __future__ import annotations

import dataclasses

from kubernetes import client as k8s

from kiseki.local.triton import MODEL_PROCESS_MALLOC
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_resources import python_backend_args, tolerations
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

# gRPC first: KServe exposes a predictor's first container port as its Service's port 80.
PORTS = {"grpc": 8001, "http": 8000, "metrics": 8002}
MODELS_DIR, ENGINES_DIR = "/models", "/engines"
TRITON_UID = 1000  # the triton-server user of NVIDIA's Triton images


def trtllm_settings(
    trtllm: TrtllmConfig, checkpoint: ev.CheckpointDiscovered, engine: str
) -> TrtllmConfig:
    """The engine of one checkpoint: directory `engine` of the engine volume."""
    return dataclasses.replace(
        trtllm,
        checkpoint_dir=checkpoint.uri,
        tokenizer_dir=checkpoint.uri,
        engine_dir=f"{ENGINES_DIR}/{engine}",
    )


def _env(settings: TrtllmConfig) -> list[k8s.V1EnvVar]:
    """The TensorRT-LLM settings as the variables `kiseki trtllm-repo` reads."""
    return [
        k8s.V1EnvVar(name=field.metadata["env"], value=str(getattr(settings, field.name)))
        for field in dataclasses.fields(settings)
    ]


def _repository_writer(
    cfg: KubernetesConfig,
    checkpoint: ev.CheckpointDiscovered,
    trtllm: TrtllmConfig | None,
    engine: str,
    serving: ServingResources,
) -> k8s.V1Container:
    if trtllm is None:
        command = ["python3", "-m", "kiseki.serving.repository", "--out", MODELS_DIR]
        command += ["--name", checkpoint.checkpoint_id, "--checkpoint", checkpoint.uri]
        command += ["--gpu"] if cfg.gpus else []
        command += python_backend_args(serving)
        env: list[k8s.V1EnvVar] = []
    else:
        command = ["python3", "-m", "kiseki", "trtllm-repo", "--out", MODELS_DIR]
        env = _env(trtllm_settings(trtllm, checkpoint, engine))
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
        env=[k8s.V1EnvVar(name=name, value=value) for name, value in MODEL_PROCESS_MALLOC.items()],
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
    if cfg.conversion_claim:  # where a converted checkpoint's uri points
        volumes.append(claim("converted", cfg.conversion_claim))
        mounts.append(
            k8s.V1VolumeMount(name="converted", mount_path=cfg.conversion_mount, read_only=True)
        )
    if cfg.backend == "trtllm":
        volumes.append(claim("engines", cfg.engine_claim))
        mounts.append(k8s.V1VolumeMount(name="engines", mount_path=ENGINES_DIR, read_only=True))
    return volumes, mounts


def pod_spec(
    cfg: KubernetesConfig,
    checkpoint: ev.CheckpointDiscovered,
    trtllm: TrtllmConfig | None,
    engine: str,
    serving: ServingResources | None = None,
) -> k8s.V1PodSpec:
    """The serving pod; `engine` names the checkpoint's directory on the engine volume; `cfg`
    and `trtllm` already hold the run's resources (kube_resources), `serving` the rest."""
    serving = serving or ServingResources()
    volumes, mounts = _volumes(cfg)
    return k8s.V1PodSpec(
        init_containers=[_repository_writer(cfg, checkpoint, trtllm, engine, serving)],
        containers=[_triton(cfg, mounts)],
        volumes=volumes,
        automount_service_account_token=False,  # Triton never talks to the API server
        node_selector=cfg.node_selector_map or None,
        tolerations=tolerations(cfg.gpus, serving),
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=TRITON_UID,
            run_as_group=TRITON_UID,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )
