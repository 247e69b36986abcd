"""The engine build as a Kubernetes Job: convert the HF checkpoint, then `trtllm-build` with
context logits gathered (log-likelihood scoring needs them), in the image that serves it."""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass

from kubernetes import client as k8s

from kiseki.serving.trtllm.config import TrtllmConfig

SCRATCH = "/scratch"
BACKOFF_LIMIT = (
    1  # a failed conversion or build fails again the same way; one retry for a lost node
)
TTL_SECONDS_AFTER_FINISHED = 86_400  # a day to read the logs of a failed build
BUILD_UID = 1000  # the triton-server user of the Triton images
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_UNSAFE = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class BuildVolumes:
    """PersistentVolumeClaims the Job mounts; a sub-path picks one checkpoint or engine in them."""

    checkpoint_claim: str
    engine_claim: str
    checkpoint_subpath: str = ""
    engine_subpath: str = ""
    # A claim holding TensorRT-LLM's source (examples/) at the image's version, mounted at
    # KISEKI_TRTLLM_SOURCE_DIR; empty when a derived image already has it there.
    source_claim: str = ""


def _shortened(text: str, limit: int) -> str:
    """Text cut to `limit` characters, with a hash of the whole so two cut names stay distinct."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: limit - 9].rstrip('-_.')}-{digest}"


def label_value(text: str) -> str:
    """A valid label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends."""
    cleaned = _LABEL_UNSAFE.sub("-", text).strip("-_.")
    return _shortened(cleaned, 63).strip("-_.") or "none"


def job_name(checkpoint_id: str, prefix: str = "trtllm-build") -> str:
    """A DNS-1123 label: the Job's name, unique per checkpoint and kind of Job."""
    cleaned = _NAME_UNSAFE.sub("-", checkpoint_id.lower()).strip("-")
    return _shortened(f"{prefix}-{cleaned}".rstrip("-"), 63).strip("-")


def build_script(cfg: TrtllmConfig) -> str:
    converted = f"{SCRATCH}/unified-checkpoint"
    examples = f"{cfg.source_dir}/examples"
    family = cfg.model_family
    # TensorRT-LLM 1.x keeps the script under examples/models/core/, older releases directly.
    candidates = [f"{examples}/models/core/{family}", f"{examples}/{family}"]
    find = (
        f"for dir in {shlex.join(candidates)}; do\n"
        '  [ -f "$dir/convert_checkpoint.py" ] && convert="$dir/convert_checkpoint.py" && break\n'
        "done\n"
        f'[ -n "${{convert:-}}" ] || {{ echo "no convert_checkpoint.py for {family}'
        f' under {examples}" >&2; exit 1; }}\n'
    )
    convert = [
        "--model_dir", cfg.checkpoint_dir, "--output_dir", converted,
        "--dtype", cfg.checkpoint_dtype, "--tp_size", str(cfg.tensor_parallel),
    ]  # fmt: skip
    build = [
        "trtllm-build", "--checkpoint_dir", converted, "--output_dir", cfg.engine_dir,
        "--gather_context_logits", "--logits_dtype", "float32",
        "--max_batch_size", str(cfg.max_batch_size),
        "--max_input_len", str(cfg.max_input_len),
        "--max_seq_len", str(cfg.max_input_len + cfg.max_output_len),
    ]  # fmt: skip
    return f'set -eu\n{find}python3 "$convert" {shlex.join(convert)}\n{shlex.join(build)}\n'


def _claim(name: str, claim: str, read_only: bool) -> k8s.V1Volume:
    source = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim, read_only=read_only)
    return k8s.V1Volume(name=name, persistent_volume_claim=source)


def _volumes(
    cfg: TrtllmConfig, claims: BuildVolumes
) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount]]:
    volumes = [
        _claim("checkpoint", claims.checkpoint_claim, read_only=True),
        _claim("engine", claims.engine_claim, read_only=False),
        k8s.V1Volume(
            name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=f"{cfg.scratch_gib}Gi")
        ),
        # NCCL and MPI need more shared memory than a container's 64 MiB default.
        k8s.V1Volume(name="shm", empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory")),
    ]
    mounts = [
        k8s.V1VolumeMount(
            name="checkpoint",
            mount_path=cfg.checkpoint_dir,
            sub_path=claims.checkpoint_subpath or None,
            read_only=True,
        ),
        k8s.V1VolumeMount(
            name="engine", mount_path=cfg.engine_dir, sub_path=claims.engine_subpath or None
        ),
        k8s.V1VolumeMount(name="scratch", mount_path=SCRATCH),
        k8s.V1VolumeMount(name="shm", mount_path="/dev/shm"),
    ]
    if claims.source_claim:
        volumes.append(_claim("trtllm-source", claims.source_claim, read_only=True))
        mounts.append(
            k8s.V1VolumeMount(name="trtllm-source", mount_path=cfg.source_dir, read_only=True)
        )
    return volumes, mounts


def _container(cfg: TrtllmConfig, mounts: list[k8s.V1VolumeMount]) -> k8s.V1Container:
    gpus = str(cfg.tensor_parallel)
    return k8s.V1Container(
        name="build",
        image=cfg.image,
        command=["bash", "-c", build_script(cfg)],
        # Caches written under HOME go to scratch, not to the image's read-only home.
        env=[k8s.V1EnvVar(name="HOME", value=SCRATCH), k8s.V1EnvVar(name="TMPDIR", value=SCRATCH)],
        resources=k8s.V1ResourceRequirements(
            requests={"nvidia.com/gpu": gpus, "cpu": "4", "memory": f"{cfg.build_memory_gib}Gi"},
            limits={"nvidia.com/gpu": gpus, "memory": f"{cfg.build_memory_gib}Gi"},
        ),
        volume_mounts=mounts,
        security_context=k8s.V1SecurityContext(
            run_as_non_root=True,
            allow_privilege_escalation=False,
            privileged=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
    )


def engine_build_job(
    cfg: TrtllmConfig, run_id: str, checkpoint_id: str, claims: BuildVolumes
) -> k8s.V1Job:
    cfg.validate_for_build()
    labels = {
        "app.kubernetes.io/name": "kiseki",
        "app.kubernetes.io/component": "trtllm-engine-build",
        "kiseki.dev/run-id": label_value(run_id),
        "kiseki.dev/checkpoint-id": label_value(checkpoint_id),
    }
    # Labels may be cut to 63 characters; annotations keep the exact identities.
    annotations = {"kiseki.dev/run-id": run_id, "kiseki.dev/checkpoint-id": checkpoint_id}
    volumes, mounts = _volumes(cfg, claims)
    pod = k8s.V1PodSpec(
        restart_policy="Never",
        containers=[_container(cfg, mounts)],
        volumes=volumes,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=BUILD_UID,
            run_as_group=BUILD_UID,
            fs_group=BUILD_UID,  # the engine volume becomes writable by the build user
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        tolerations=[
            k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
        ],
    )
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(
            name=job_name(checkpoint_id), labels=labels, annotations=annotations
        ),
        spec=k8s.V1JobSpec(
            backoff_limit=BACKOFF_LIMIT,
            ttl_seconds_after_finished=TTL_SECONDS_AFTER_FINISHED,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels, annotations=annotations), spec=pod
            ),
        ),
    )


def as_manifest(job: k8s.V1Job) -> dict[str, object]:
    """The Job as the plain mapping kubectl and the API server take (camelCase, no nulls)."""
    manifest: dict[str, object] = k8s.ApiClient().sanitize_for_serialization(job)
    return manifest
