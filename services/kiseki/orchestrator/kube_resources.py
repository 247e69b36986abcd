"""A run's serving resources applied to the Kubernetes deployer's settings: the configs its
checkpoints' pod, InferenceService and engine-build Job are rendered from."""

from __future__ import annotations

import dataclasses
from typing import Any

from kubernetes import client as k8s

from kiseki.core.config import ConfigError
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.deployer import DeployError
from kiseki.orchestrator.serving_policy import ServingResources
from kiseki.serving.trtllm.config import TrtllmConfig

GPU_TOLERATION = k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")


def run_configs(
    cfg: KubernetesConfig, trtllm: TrtllmConfig | None, serving: ServingResources
) -> tuple[KubernetesConfig, TrtllmConfig | None]:
    """`cfg` and `trtllm` with the run's keys in place of the process-wide ones."""
    backend = cfg.backend if serving.backend is None else serving.backend
    backend = "trtllm" if backend == "trtllm" else "python"
    if backend == "trtllm" and (trtllm is None or not cfg.engine_claim):
        raise DeployError(
            "serving.backend trtllm needs the KISEKI_TRTLLM_* settings and"
            " KISEKI_K8S_ENGINE_CLAIM (the chart's serving.trtllm values)"
        )
    changes: dict[str, Any] = {"backend": backend}
    if serving.gpus is not None:
        changes["gpus"] = serving.gpus
    if serving.memory is not None:
        changes["memory"] = serving.memory
    if serving.node_selector:
        changes["node_selector"] = tuple(f"{k}={v}" for k, v in serving.node_selector.items())
    if backend == "trtllm" and cfg.backend != "trtllm" and trtllm is not None:
        changes["serving_image"] = trtllm.image  # the engine's TensorRT version serves it
    if backend != "trtllm" or trtllm is None:
        return dataclasses.replace(cfg, **changes), None
    engine = dataclasses.replace(
        trtllm,
        tensor_parallel=serving.tensor_parallel_size or trtllm.tensor_parallel,
        checkpoint_dtype=serving.dtype or trtllm.checkpoint_dtype,
    )
    try:
        engine.validate()
    except ConfigError as error:
        raise DeployError(f"the run's serving settings: {error}") from None
    return dataclasses.replace(cfg, **changes), engine


def tolerations(gpus: int, serving: ServingResources) -> list[k8s.V1Toleration] | None:
    """The GPU nodes' usual taint where the pod asks for GPUs, and the run's own."""
    own = [
        k8s.V1Toleration(
            key=t.key or None,
            operator=t.operator,
            value=t.value or None,
            effect=t.effect or None,
        )
        for t in serving.tolerations
    ]
    found = ([GPU_TOLERATION] if gpus else []) + own
    return found or None


def python_backend_args(serving: ServingResources) -> list[str]:
    """The repository writer's flags for kiseki's Triton model (hf or vllm, vLLM's cores,
    the dtype)."""
    args = ["--backend", serving.backend] if serving.backend in ("hf", "vllm") else []
    args += ["--vllm-threads", serving.vllm_threads] if serving.vllm_threads else []
    return args + (["--dtype", serving.dtype] if serving.dtype else [])
