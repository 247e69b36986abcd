"""The orchestrator's settings, read once from the environment."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from kiseki.core.config import ConfigError, setting
from kiseki.serving.repository import THREADS_BIND


@dataclass(frozen=True)
class OrchestratorConfig:
    policy_file: Path = setting(
        "KISEKI_POLICY_FILE",
        doc="evaluation policies per run and the endpoint budget (JSON or YAML), or a team's"
        " llm-jp-eval configuration YAML",
    )
    datasets_dir: str = setting(
        "KISEKI_DATASETS_DIR",
        "",
        doc="the runners' datasets directory, when a policy names target_dataset 'all'",
    )
    workdir: Path = setting(
        "KISEKI_ORCHESTRATOR_WORKDIR",
        Path(".artifacts/orchestrator"),
        doc="local mode: tritonserver's model repository and logs",
    )
    job_partitions: int = setting(
        "KISEKI_JOB_PARTITIONS",
        12,
        unit="partitions",
        doc="upper bound on task-runners that share the jobs topic; 12 divides by 1-4, 6",
    )
    tick_s: float = setting(
        "KISEKI_ORCHESTRATOR_TICK_S",
        0.2,
        unit="seconds",
        doc="the scheduler runs at least this often; records wake it at once",
    )
    inbox_records: int = setting(
        "KISEKI_ORCHESTRATOR_INBOX_RECORDS",
        10000,
        unit="records",
        doc="records read ahead of the scheduler; bounds memory while a replay floods in",
    )
    control_port: int = setting(
        "KISEKI_CONTROL_PORT", 50051, unit="TCP port", doc="gRPC control API; 0 picks a free one"
    )
    control_host: str = setting(
        "KISEKI_CONTROL_HOST", "127.0.0.1", doc="bind address of the control API"
    )
    job_retries: int = setting(
        "KISEKI_ORCHESTRATOR_JOB_RETRIES",
        2,
        unit="retries",
        doc="times a checkpoint's failed jobs are sent again (after deploying again) before it"
        " is FAILED; covers endpoints down longer than the runners wait, cheap for bad data",
    )
    deployer: str = setting(
        "KISEKI_DEPLOYER",
        "local",
        doc="'local' (one tritonserver process here) or 'kubernetes' (one service per checkpoint)",
    )
    conversion_dir: Path = setting(
        "KISEKI_CONVERSION_DIR",
        Path(".artifacts/orchestrator/converted"),
        doc="local mode: HuggingFace copies of Megatron-LM / DeepSpeed / NeMo 2 checkpoints, one"
        " per checkpoint id (Kubernetes: KISEKI_K8S_CONVERSION_MOUNT)",
    )
    conversion_slots: int = setting(
        "KISEKI_CONVERSION_SLOTS",
        1,
        unit="processes",
        doc="conversions at once (outside the endpoint budget); each holds the whole model in"
        " host memory in fp32 and its copy again on disk: a 13B model takes ~52 GB of each",
    )
    conversion_ahead: int = setting(
        "KISEKI_CONVERSION_AHEAD",
        1,
        unit="checkpoints",
        doc="converted ahead, beyond the endpoints free for them, while the endpoints evaluate"
        " earlier checkpoints: the next one is ready when an endpoint frees (1 hides one"
        " conversion behind each evaluation; each waits as a copy on disk); 0: convert only"
        " for a free endpoint",
    )
    conversion_python: str = setting(
        "KISEKI_CONVERSION_PYTHON",
        sys.executable,
        doc="interpreter of the conversion processes: its environment has torch and"
        " transformers, and deepspeed for DeepSpeed checkpoints",
    )
    conversion_timeout_s: float = setting(
        "KISEKI_CONVERSION_TIMEOUT_S",
        3600.0,
        unit="seconds",
        doc="a conversion is read, rewritten and saved once: ~10 min for 13B on local disk",
    )
    warm_idle_s: float = setting(
        "KISEKI_WARM_IDLE_S",
        30.0,
        unit="seconds",
        doc="a finished checkpoint's model (Kubernetes: its Deployment) whose run has more"
        " waiting stays up this long for the next one to take it over by a weight swap (HF"
        " 0.8 s vs 8.4 s cold, vLLM 0.1 s vs 26 s: tools/bench/hot_swap.py; a pod's cold start"
        " adds scheduling and the image); the next pick is usually the next tick, and a cold"
        " deploy drops idle ones first; 0: every checkpoint deploys cold",
    )
    serving_backend: str = setting(
        "KISEKI_SERVING_BACKEND",
        "hf",
        doc="local mode: what scores in each checkpoint's Triton model, 'hf' (kiseki's HF"
        " scorer) or 'vllm' (vLLM's engine, prefix caching; 1,024 four-shot prompts on a 4x256"
        " GPT-2 here: ~65-71 samples/s on hf, see tools/bench/vllm_serving.py for vllm)",
    )
    serving_vllm_threads: str = setting(
        "KISEKI_SERVING_VLLM_THREADS",
        "",
        doc="the vllm backend's compute cores (VLLM_CPU_OMP_THREADS_BIND: '0-1', '0,2-3') on"
        " vLLM's CPU build, locally and in each serving pod (a run's serving.vllm_threads wins);"
        " empty: vLLM's default, one thread and a core left to its scheduler (1,024 four-shot"
        " prompts, 4x256 GPT-2, prefix caching: ~263 samples/s on one thread, 414-420 on two,"
        " tools/bench/vllm_knobs.py)",
    )

    def validate(self) -> OrchestratorConfig:
        """Raise ConfigError naming the first variable whose value cannot work."""
        threads = self.serving_vllm_threads
        if threads and not THREADS_BIND.match(threads):
            raise ConfigError(
                f"KISEKI_SERVING_VLLM_THREADS={threads!r} must be cores like 0-1 or 0,2-3"
            )
        if self.conversion_slots < 1:
            raise ConfigError(f"KISEKI_CONVERSION_SLOTS={self.conversion_slots} must be at least 1")
        if self.conversion_ahead < 0:
            raise ConfigError(f"KISEKI_CONVERSION_AHEAD={self.conversion_ahead} must be at least 0")
        return self


SERVING_MODES = ("deployment", "kserve")
SERVING_BACKENDS = ("python", "trtllm")


@dataclass(frozen=True)
class KubernetesConfig:
    """The Kubernetes deployer: where and how each checkpoint's Triton service runs."""

    namespace: str = setting(
        "KISEKI_K8S_NAMESPACE", doc="namespace of the inference objects (the chart's own)"
    )
    serving_image: str = setting(
        "KISEKI_K8S_SERVING_IMAGE",
        doc="tritonserver's image: services/Dockerfile's triton target (kiseki's HF model at the"
        " same path as in the kiseki image), or NVIDIA's TensorRT-LLM image",
    )
    repository_image: str = setting(
        "KISEKI_K8S_REPOSITORY_IMAGE",
        doc="the kiseki image: an init container of each serving pod writes the model repository",
    )
    checkpoint_claim: str = setting(
        "KISEKI_K8S_CHECKPOINT_CLAIM", doc="PVC holding the checkpoints, mounted read-only"
    )
    checkpoint_mount: str = setting(
        "KISEKI_K8S_CHECKPOINT_MOUNT",
        "/checkpoints",
        doc="where the watcher mounts that PVC; serving pods mount it at the same path, so a"
        " checkpoint's uri is valid in them unchanged",
    )
    instance: str = setting(
        "KISEKI_K8S_INSTANCE",
        "kiseki",
        doc="the Helm release: a label on every object, so installs sharing a namespace never"
        " adopt each other's services",
    )
    mode: str = setting(
        "KISEKI_K8S_MODE", "deployment", doc="'deployment' (Deployment + Service) or 'kserve'"
    )
    kserve_deployment_mode: str = setting(
        "KISEKI_K8S_KSERVE_DEPLOYMENT_MODE",
        "RawDeployment",
        doc="KServe's annotation; RawDeployment (called Standard from 0.15) needs no Knative",
    )
    backend: str = setting(
        "KISEKI_K8S_BACKEND",
        "python",
        doc="'python' (kiseki's HF model) or 'trtllm' (an engine built by a Job first)",
    )
    engine_claim: str = setting(
        "KISEKI_K8S_ENGINE_CLAIM", "", doc="trtllm: PVC the build Job writes engines to"
    )
    trtllm_source_claim: str = setting(
        "KISEKI_K8S_TRTLLM_SOURCE_CLAIM",
        "",
        doc="trtllm: PVC with TensorRT-LLM's source at the image's version, for the build Job",
    )
    conversion_claim: str = setting(
        "KISEKI_K8S_CONVERSION_CLAIM",
        "",
        doc="PVC (ReadWriteMany) the conversion Jobs write HF copies to, which the orchestrator"
        " (to reuse and delete them) and the serving pods mount too; empty: checkpoints that"
        " need conversion fail, naming this variable",
    )
    conversion_mount: str = setting(
        "KISEKI_K8S_CONVERSION_MOUNT",
        "/converted",
        doc="where the Jobs, the orchestrator and the serving pods all mount that PVC, so a"
        " converted copy's path is valid in each unchanged",
    )
    conversion_image: str = setting(
        "KISEKI_K8S_CONVERSION_IMAGE",
        "",
        doc="image of the conversion Jobs (runs `kiseki convert`; torch, transformers, and"
        " deepspeed for DeepSpeed checkpoints); empty: KISEKI_K8S_REPOSITORY_IMAGE",
    )
    conversion_cpu: str = setting(
        "KISEKI_K8S_CONVERSION_CPU",
        "4",
        unit="cores",
        doc="requested by each conversion Job: torch merges the shards on a few threads",
    )
    conversion_memory: str = setting(
        "KISEKI_K8S_CONVERSION_MEMORY",
        "64Gi",
        unit="bytes (Kubernetes quantity)",
        doc="request and limit of each conversion Job: the whole model in fp32 once, ~52 GB"
        " for 13B",
    )
    gpus: int = setting(
        "KISEKI_K8S_GPUS", 1, unit="GPUs", doc="nvidia.com/gpu per serving pod; 0 serves on CPU"
    )
    cpu: str = setting(
        "KISEKI_K8S_SERVING_CPU", "4", unit="cores", doc="tokenisation and the Python backend"
    )
    memory: str = setting(
        "KISEKI_K8S_SERVING_MEMORY",
        "32Gi",
        unit="bytes (Kubernetes quantity)",
        doc="loading a checkpoint holds it in host memory once; 32Gi fits ~13B in bf16",
    )
    node_selector: tuple[str, ...] = setting(
        "KISEKI_K8S_NODE_SELECTOR", (), doc="key=value pairs, comma separated, for serving pods"
    )
    ready_timeout_s: float = setting(
        "KISEKI_K8S_READY_TIMEOUT_S",
        1800.0,
        unit="seconds",
        doc="image pull plus loading a large checkpoint on a cold node can take many minutes",
    )
    build_timeout_s: float = setting(
        "KISEKI_K8S_BUILD_TIMEOUT_S",
        7200.0,
        unit="seconds",
        doc="trtllm: conversion and engine build of a ~70B model take about an hour",
    )
    poll_s: float = setting(
        "KISEKI_K8S_POLL_S",
        2.0,
        unit="seconds",
        doc="between readiness checks; pods take tens of seconds at least, so 2 s costs nothing",
    )
    endpoint_address: str = setting(
        "KISEKI_K8S_ENDPOINT_ADDRESS",
        "{service}.{namespace}.svc:{port}",
        doc="gRPC address runners use; {service}, {namespace} and {port} are filled in. Set it"
        " when services are reached another way (a gateway, or a port-forward from outside)",
    )

    def validate(self) -> KubernetesConfig:
        """Raise ConfigError naming the first variable whose value cannot work."""
        for variable, value, allowed in (
            ("KISEKI_K8S_MODE", self.mode, SERVING_MODES),
            ("KISEKI_K8S_BACKEND", self.backend, SERVING_BACKENDS),
        ):
            if value not in allowed:
                raise ConfigError(f"{variable}={value!r} must be one of {', '.join(allowed)}")
        if self.backend == "trtllm" and not self.engine_claim:
            raise ConfigError("KISEKI_K8S_ENGINE_CLAIM must name a PVC for the trtllm backend")
        if self.gpus < 0:
            raise ConfigError(f"KISEKI_K8S_GPUS={self.gpus} must be at least 0")
        for pair in self.node_selector:
            if "=" not in pair:
                raise ConfigError(f"KISEKI_K8S_NODE_SELECTOR entry {pair!r} must be key=value")
        return self

    @property
    def node_selector_map(self) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in self.node_selector)
