"""The conversion of one checkpoint as a Kubernetes Job: `kiseki convert` in the kiseki image,
the checkpoints' PVC read-only at the path the watcher saw (so the checkpoint's and its
tokenizer's uris are valid unchanged) and the conversion PVC writable at its mount, where the
copy is renamed to `<mount>/<checkpoint_id>` only when whole."""

from __future__ import annotations

from kubernetes import client as k8s

from kiseki.conversion.formats import FLAGS
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_objects import identity_annotations, identity_labels
from kiseki.orchestrator.kube_pod import hardened
from kiseki.serving.trtllm.build_job import job_name
from kiseki.v1 import events_pb2 as ev

COMPONENT = "conversion"
CONTAINER = "convert"
BACKOFF_LIMIT = 1  # one retry for a lost node; a checkpoint that cannot be converted fails at once
# `kiseki convert`'s status for a user-facing error, here a checkpoint that cannot be converted
# (a missing shard, an unknown architecture): running it again cannot help.
BAD_INPUT_EXIT = 2
TTL_SECONDS_AFTER_FINISHED = 86_400  # a day to read the log of a failed conversion
KISEKI_UID = 10001  # the kiseki image's user (services/Dockerfile)
SCRATCH = "/tmp"


def conversion_job_name(checkpoint_id: str) -> str:
    return job_name(checkpoint_id, prefix="kiseki-convert")


def converted_uri(cfg: KubernetesConfig, checkpoint_id: str) -> str:
    return f"{cfg.conversion_mount.rstrip('/')}/{checkpoint_id}"


def convert_command(cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered) -> list[str]:
    """`kiseki convert`, keeping a finished copy: a retried pod after the rename succeeds."""
    command = ["python", "-m", "kiseki", "convert", checkpoint.uri]
    command += [converted_uri(cfg, checkpoint.checkpoint_id), "--format", FLAGS[checkpoint.format]]
    if checkpoint.tokenizer_uri:
        command += ["--tokenizer", checkpoint.tokenizer_uri]
    return [*command, "--keep-existing"]


def _volumes(cfg: KubernetesConfig) -> tuple[list[k8s.V1Volume], list[k8s.V1VolumeMount]]:
    def claim(name: str, claim_name: str, read_only: bool) -> k8s.V1Volume:
        source = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim_name, read_only=read_only)
        return k8s.V1Volume(name=name, persistent_volume_claim=source)

    volumes = [
        claim("checkpoints", cfg.checkpoint_claim, read_only=True),
        claim("converted", cfg.conversion_claim, read_only=False),
        k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
    ]
    mounts = [
        k8s.V1VolumeMount(name="checkpoints", mount_path=cfg.checkpoint_mount, read_only=True),
        k8s.V1VolumeMount(name="converted", mount_path=cfg.conversion_mount),
        k8s.V1VolumeMount(name="tmp", mount_path=SCRATCH),
    ]
    return volumes, mounts


def _container(cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered) -> k8s.V1Container:
    _, mounts = _volumes(cfg)
    return k8s.V1Container(
        name=CONTAINER,
        image=cfg.conversion_image or cfg.repository_image,
        command=convert_command(cfg, checkpoint),
        # Caches written under HOME (transformers, torch) go to scratch: the root is read-only.
        env=[k8s.V1EnvVar(name="HOME", value=SCRATCH), k8s.V1EnvVar(name="TMPDIR", value=SCRATCH)],
        resources=k8s.V1ResourceRequirements(
            requests={"cpu": cfg.conversion_cpu, "memory": cfg.conversion_memory},
            limits={"memory": cfg.conversion_memory},
        ),
        volume_mounts=mounts,
        # The last lines of the log hold `conversion failed: REASON`: the orchestrator reads
        # them from the pod's status, so it needs no access to logs.
        termination_message_policy="FallbackToLogsOnError",
        security_context=hardened(),
    )


def _fail_at_once() -> k8s.V1PodFailurePolicy:
    exit_codes = k8s.V1PodFailurePolicyOnExitCodesRequirement(
        container_name=CONTAINER, operator="In", values=[BAD_INPUT_EXIT]
    )
    rule = k8s.V1PodFailurePolicyRule(action="FailJob", on_exit_codes=exit_codes)
    return k8s.V1PodFailurePolicy(rules=[rule])


def conversion_job(
    cfg: KubernetesConfig, checkpoint: ev.CheckpointDiscovered, timeout_s: float
) -> k8s.V1Job:
    labels = identity_labels(cfg, checkpoint, COMPONENT)
    annotations = identity_annotations(checkpoint)
    volumes, _ = _volumes(cfg)
    pod = k8s.V1PodSpec(
        restart_policy="Never",
        containers=[_container(cfg, checkpoint)],
        volumes=volumes,
        automount_service_account_token=False,  # the converter never talks to the API server
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=KISEKI_UID,
            run_as_group=KISEKI_UID,
            fs_group=KISEKI_UID,  # the conversion volume becomes writable by the kiseki user
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
    )
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(
            name=conversion_job_name(checkpoint.checkpoint_id),
            labels=labels,
            annotations=annotations,
        ),
        spec=k8s.V1JobSpec(
            backoff_limit=BACKOFF_LIMIT,
            pod_failure_policy=_fail_at_once(),
            active_deadline_seconds=max(1, int(timeout_s)),
            ttl_seconds_after_finished=TTL_SECONDS_AFTER_FINISHED,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels, annotations=annotations), spec=pod
            ),
        ),
    )
