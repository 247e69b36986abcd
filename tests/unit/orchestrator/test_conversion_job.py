"""The conversion Job: it validates against the Kubernetes schema, runs `kiseki convert` with
the checkpoint read-only and the copy written to the conversion PVC, is hardened, and fails at
once on a checkpoint that cannot be converted; converted copies are served from that PVC."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s

from kiseki.cli import main
from kiseki.conversion.formats import failure_reason
from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.conversion_job import (
    BAD_INPUT_EXIT,
    conversion_job,
    conversion_job_name,
    converted_uri,
)
from kiseki.orchestrator.kube_pod import pod_spec
from kiseki.serving.trtllm.build_job import as_manifest
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

CHECKPOINT = ev.CheckpointDiscovered(
    checkpoint_id="llm-jp-3-1.8b-s1000", run_id="llm-jp-3-1.8b", step=1000,
    uri="/checkpoints/llm-jp-3-1.8b/iter_0001000", format=ev.CHECKPOINT_FORMAT_MEGATRON,
    tokenizer_uri="/checkpoints/tokenizers/llm-jp",
)  # fmt: skip
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _config(**overrides: object) -> KubernetesConfig:
    values: dict[str, object] = {
        "namespace": "kiseki",
        "serving_image": "triton:1",
        "repository_image": "kiseki:1",
        "checkpoint_claim": "checkpoints",
        "conversion_claim": "converted",
    }
    return KubernetesConfig(**(values | overrides))  # type: ignore[arg-type]


def _plain(model: object) -> Any:
    """A typed Kubernetes model as the API server's camelCase mapping."""
    return k8s.ApiClient().sanitize_for_serialization(model)


def _manifest(**overrides: object) -> dict[str, Any]:
    return as_manifest(conversion_job(_config(**overrides), CHECKPOINT, timeout_s=3600))


def test_job_validates_against_the_kubernetes_schema(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(_manifest()))
    validated = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_job_runs_kiseki_convert_into_the_conversion_claim() -> None:
    manifest = _manifest()
    assert manifest["metadata"]["name"] == "kiseki-convert-llm-jp-3-1-8b-s1000"
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "kiseki:1"  # the kiseki image unless one is named
    assert container["command"] == [
        "python", "-m", "kiseki", "convert", CHECKPOINT.uri, "/converted/llm-jp-3-1.8b-s1000",
        "--format", "megatron", "--tokenizer", CHECKPOINT.tokenizer_uri, "--keep-existing",
    ]  # fmt: skip
    assert container["resources"] == {
        "requests": {"cpu": "4", "memory": "64Gi"},
        "limits": {"memory": "64Gi"},
    }
    assert _manifest(conversion_image="convert:2")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == ("convert:2")


def test_checkpoint_is_read_only_and_the_copy_written_to_the_conversion_claim() -> None:
    pod = _manifest(conversion_mount="/scratch/hf")["spec"]["template"]["spec"]
    volumes = {v["name"]: v.get("persistentVolumeClaim") for v in pod["volumes"]}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert volumes["checkpoints"] == {"claimName": "checkpoints", "readOnly": True}
    assert mounts["checkpoints"] == {
        "name": "checkpoints", "mountPath": "/checkpoints", "readOnly": True
    }  # fmt: skip
    assert volumes["converted"] == {"claimName": "converted", "readOnly": False}
    assert mounts["converted"] == {"name": "converted", "mountPath": "/scratch/hf"}
    assert pod["containers"][0]["command"][5] == "/scratch/hf/llm-jp-3-1.8b-s1000"


def test_job_is_hardened_labelled_and_bounded() -> None:
    manifest = _manifest()
    labels = manifest["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "conversion"
    assert labels["app.kubernetes.io/managed-by"] == objects.MANAGER
    assert labels[objects.CHECKPOINT_LABEL] == CHECKPOINT.checkpoint_id
    assert manifest["metadata"]["annotations"][objects.RUN_LABEL] == CHECKPOINT.run_id
    spec = manifest["spec"]
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["ttlSecondsAfterFinished"] > 0
    # A checkpoint that cannot be converted fails the Job at once, without a retry.
    (rule,) = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailJob"
    assert rule["onExitCodes"] == {
        "containerName": "convert", "operator": "In", "values": [BAD_INPUT_EXIT]
    }  # fmt: skip
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_job_names_are_dns_labels_distinct_from_engine_builds() -> None:
    long_id = "LLM-jp-3_172B/iter_0001000/" + "x" * 80
    name = conversion_job_name(long_id)
    assert len(name) <= 63
    assert DNS_LABEL.match(name)
    assert conversion_job_name(long_id + "1") != conversion_job_name(long_id + "2")


def test_serving_pods_mount_the_conversion_claim_read_only() -> None:
    cfg = _config()
    served = ev.CheckpointDiscovered(
        checkpoint_id=CHECKPOINT.checkpoint_id, uri=converted_uri(cfg, CHECKPOINT.checkpoint_id)
    )
    pod = _plain(pod_spec(cfg, served, None, "engine"))
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["converted"] == {"name": "converted", "mountPath": "/converted", "readOnly": True}
    without = _plain(pod_spec(_config(conversion_claim=""), served, None, "engine"))
    assert "converted" not in {v["name"] for v in without["volumes"]}


def test_an_engine_build_reads_a_converted_checkpoint_from_the_conversion_claim() -> None:
    cfg = _config(backend="trtllm", engine_claim="engines")
    trtllm = TrtllmConfig(engine_dir="/engines", tokenizer_dir="/checkpoints")
    served = ev.CheckpointDiscovered(
        checkpoint_id="ck", run_id="r", uri=converted_uri(cfg, "ck"), format=ev.CHECKPOINT_FORMAT_HF
    )
    pod = _plain(objects.build_job(cfg, trtllm, served))["spec"]["template"]["spec"]
    volumes = {v["name"]: v.get("persistentVolumeClaim") for v in pod["volumes"]}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert volumes["checkpoint"]["claimName"] == "converted"
    assert mounts["checkpoint"]["subPath"] == "ck"


def test_the_job_entry_point_keeps_a_finished_copy_and_names_a_bad_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    finished = tmp_path / "converted"
    finished.mkdir()
    args = ["convert", str(tmp_path), str(finished), "--format", "megatron"]
    assert main(args) == BAD_INPUT_EXIT  # by hand, an existing destination is an error
    assert main([*args, "--keep-existing"]) == 0  # a retried Job's pod succeeds
    capsys.readouterr()
    missing = tmp_path / "iter_0000100"
    assert main(["convert", str(missing), str(tmp_path / "out"), "--format", "megatron"]) == 2
    assert failure_reason(capsys.readouterr().err) == (
        f"checkpoint directory {missing} does not exist"
    )
