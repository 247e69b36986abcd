"""The conversion stage on a real API server, as the chart's ServiceAccount (a real token bound
to the chart's Role with conversion on): the converter creates the checkpoint's Job, waits for
its status (the test writes it as the Job controller would: none runs here), serves the copy
from the conversion mount, reuses a finished copy without a Job, turns a failed Job into the
reason its pod's termination message gives, and replaces that Job when the checkpoint is
converted again (a new request, a restart) rather than failing the same way for its TTL.

No pod runs (no kubelet here); the test stands in for the Job's output by creating the copy's
directory in the mount the orchestrator shares with the Jobs.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.conversion import ConversionFailed
from kiseki.orchestrator.conversion_job import conversion_job_name
from kiseki.orchestrator.kube_conversion import CONTROLLER_UID_LABEL, KubernetesConverter
from kiseki.v1 import events_pb2 as ev
from support.chart import install_rbac
from support.kube import ControlPlane
from support.polling import poll_until_async

CONVERSION = ["--set", "conversion.existingClaim=converted"]
CHECKPOINT = ev.CheckpointDiscovered(
    checkpoint_id="llm-jp-3-1.8b-s100", run_id="llm-jp-3-1.8b", step=100,
    uri="/checkpoints/llm-jp-3-1.8b/iter_0000100", format=ev.CHECKPOINT_FORMAT_MEGATRON,
    tokenizer_uri="/checkpoints/tokenizer",
)  # fmt: skip
JOB = conversion_job_name(CHECKPOINT.checkpoint_id)


def _settings(namespace: str, mount: Path, **overrides: Any) -> KubernetesConfig:
    values: dict[str, Any] = {
        "namespace": namespace,
        "serving_image": "registry.example.com/kiseki-triton:test",
        "repository_image": "registry.example.com/kiseki:test",
        "checkpoint_claim": "checkpoints",
        "conversion_claim": "converted",
        "conversion_mount": str(mount),
        "poll_s": 0.05,
    }
    return KubernetesConfig(**(values | overrides))


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _conditions(kinds: tuple[str, ...], **fields: str) -> list[dict[str, str]]:
    return [{"type": t, "status": "True", "lastTransitionTime": _now(), **fields} for t in kinds]


async def _the_job(batch: k8s.BatchV1Api, namespace: str) -> Any:
    async def found() -> Any:
        jobs = await asyncio.to_thread(batch.list_namespaced_job, namespace)
        return jobs.items[0] if jobs.items else None

    return await poll_until_async(found, timeout_s=10)


async def _gone(batch: k8s.BatchV1Api, namespace: str) -> bool:
    try:
        await asyncio.to_thread(batch.read_namespaced_job, JOB, namespace)
    except ApiException as error:
        return bool(error.status == 404)
    return False


async def test_conversion_job_gates_the_checkpoint_and_its_copy_is_reused(
    kube: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    install_rbac(kube, namespace, CONVERSION)
    token = kube.service_account_token(namespace, "kiseki-orchestrator")
    with kube.admin() as admin_api, kube.with_token(token) as api:
        batch = k8s.BatchV1Api(admin_api)
        converter = KubernetesConverter(api, _settings(namespace, tmp_path), 1, timeout_s=30)
        task = asyncio.create_task(converter.convert(CHECKPOINT))
        job = await _the_job(batch, namespace)
        assert job.metadata.name == JOB
        command = job.spec.template.spec.containers[0].command
        assert command[3:6] == ["convert", CHECKPOINT.uri, str(tmp_path / CHECKPOINT.checkpoint_id)]
        assert job.spec.pod_failure_policy.rules[0].action == "FailJob"
        assert not task.done()  # gated on the Job

        (tmp_path / CHECKPOINT.checkpoint_id).mkdir()  # what the Job's pod writes and renames
        now = _now()
        status = {"startTime": now, "completionTime": now, "succeeded": 1,
                  "conditions": _conditions(("SuccessCriteriaMet", "Complete"))}  # fmt: skip
        batch.patch_namespaced_job_status(JOB, namespace, {"status": status})
        served = await asyncio.wait_for(task, timeout=30)
        assert (served.uri, served.format) == (
            str(tmp_path / CHECKPOINT.checkpoint_id),
            ev.CHECKPOINT_FORMAT_HF,
        )
        assert served.run_id == CHECKPOINT.run_id

        # The Job gone (its TTL), the finished copy is served again without another Job.
        background = k8s.V1DeleteOptions(propagation_policy="Background")
        batch.delete_namespaced_job(JOB, namespace, body=background)
        await poll_until_async(lambda: _gone(batch, namespace))
        assert (await converter.convert(CHECKPOINT)).uri == served.uri
        assert not batch.list_namespaced_job(namespace).items

        await converter.discard(CHECKPOINT.checkpoint_id)
        assert not (tmp_path / CHECKPOINT.checkpoint_id).exists()
        await converter.discard(CHECKPOINT.checkpoint_id)  # gone already is fine


async def test_a_failed_conversion_job_fails_the_checkpoint_with_its_pods_reason(
    kube: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    install_rbac(kube, namespace, CONVERSION)
    token = kube.service_account_token(namespace, "kiseki-orchestrator")
    with kube.admin() as admin_api, kube.with_token(token) as api:
        batch, core = k8s.BatchV1Api(admin_api), k8s.CoreV1Api(admin_api)
        converter = KubernetesConverter(api, _settings(namespace, tmp_path), 1, timeout_s=30)
        task = asyncio.create_task(converter.convert(CHECKPOINT))
        job = await _the_job(batch, namespace)
        partial = tmp_path / f"{CHECKPOINT.checkpoint_id}.partial-1"
        partial.mkdir()  # what the pod had written when it failed

        # Play the Job controller and the kubelet: the pod failed with the converter's line.
        template = job.spec.template
        labels = {"batch.kubernetes.io/job-name": JOB, CONTROLLER_UID_LABEL: job.metadata.uid}
        pod = k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(name=f"{JOB}-x", labels=labels), spec=template.spec
        )
        core.create_namespaced_pod(namespace, pod)
        reason = "tensor-parallel shard mp_rank_01_000/model_optim_rng.pt is missing"
        log = f"loading shards\nkiseki convert: conversion failed: {reason}\n"
        terminated = {"exitCode": 2, "reason": "Error", "message": log,
                      "startedAt": _now(), "finishedAt": _now()}  # fmt: skip
        container = {"name": "convert", "image": template.spec.containers[0].image,
                     "imageID": "", "ready": False, "restartCount": 0,
                     "state": {"terminated": terminated}}  # fmt: skip
        core.patch_namespaced_pod_status(
            f"{JOB}-x", namespace, {"status": {"phase": "Failed", "containerStatuses": [container]}}
        )
        failed = _conditions(
            ("FailureTarget", "Failed"),
            reason="PodFailurePolicy",
            message="Container convert for pod failed with exit code 2 matching FailJob rule",
        )
        batch.patch_namespaced_job_status(
            JOB, namespace, {"status": {"startTime": _now(), "failed": 1, "conditions": failed}}
        )
        with pytest.raises(ConversionFailed) as raised:
            await asyncio.wait_for(task, timeout=30)
        assert str(raised.value) == reason
        assert not partial.exists()

        # Asked again (a new request, a restart), the failed Job is replaced by a new one: the
        # old one would stay a day (its TTL) and fail every retry the same way.
        retry = asyncio.create_task(converter.convert(CHECKPOINT))

        async def replaced() -> Any:
            found = await _the_job(batch, namespace)
            return found if found.metadata.uid != job.metadata.uid else None

        second = await poll_until_async(replaced, timeout_s=10)
        assert not (second.status and second.status.conditions)
        assert not retry.done()  # gated on the new Job, not failed by the old one's pod
        (tmp_path / CHECKPOINT.checkpoint_id).mkdir()
        now = _now()
        status = {"startTime": now, "completionTime": now, "succeeded": 1,
                  "conditions": _conditions(("SuccessCriteriaMet", "Complete"))}  # fmt: skip
        batch.patch_namespaced_job_status(JOB, namespace, {"status": status})
        served = await asyncio.wait_for(retry, timeout=30)
        assert served.uri == str(tmp_path / CHECKPOINT.checkpoint_id)


async def test_conversion_without_a_claim_fails_naming_the_setting(
    kube: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    with kube.admin() as api:
        settings = _settings(namespace, tmp_path, conversion_claim="")
        converter = KubernetesConverter(api, settings, 1, timeout_s=30)
        with pytest.raises(ConversionFailed, match="KISEKI_K8S_CONVERSION_CLAIM"):
            await converter.convert(CHECKPOINT)
        assert not k8s.BatchV1Api(api).list_namespaced_job(namespace).items
