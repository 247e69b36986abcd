"""The serving objects the Kubernetes deployer builds: names, identity labels, pod shape."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiseki.core.config import ConfigError
from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_pod import pod_spec
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _config(**overrides: object) -> KubernetesConfig:
    values: dict[str, object] = {
        "namespace": "kiseki",
        "serving_image": "triton:1",
        "repository_image": "kiseki:1",
        "checkpoint_claim": "checkpoints",
    }
    return KubernetesConfig(**(values | overrides))  # type: ignore[arg-type]


CHECKPOINT = ev.CheckpointDiscovered(
    checkpoint_id="LLM-jp-3_1.8B/step 1000", run_id="llm-jp-3-1.8b", step=1000,
    uri="/checkpoints/llm-jp-3-1.8b/iter_0001000",
)  # fmt: skip


@given(st.text(min_size=1, max_size=300))
def test_object_names_are_dns_labels_short_enough_for_kserve_suffixes(checkpoint_id: str) -> None:
    name = objects.object_name(checkpoint_id)
    assert DNS_LABEL.match(name)
    assert len(name) <= 45


def test_long_ids_that_share_a_prefix_get_distinct_names() -> None:
    base = "run-" + "x" * 80
    assert objects.object_name(base + "-s1") != objects.object_name(base + "-s2")


def test_identity_labels_tie_objects_to_run_and_checkpoint() -> None:
    meta: Any = objects.identity(_config(instance="study"), CHECKPOINT)
    assert meta.annotations[objects.CHECKPOINT_LABEL] == CHECKPOINT.checkpoint_id
    assert meta.labels[objects.RUN_LABEL] == "llm-jp-3-1.8b"
    selector = dict(
        pair.split("=") for pair in objects.selector(_config(instance="study")).split(",")
    )
    assert selector.items() <= meta.labels.items()


def test_pod_serves_triton_on_three_ports_with_the_checkpoint_read_only() -> None:
    pod: Any = pod_spec(_config(gpus=2, node_selector=("pool=h100",)), CHECKPOINT, None, "e")
    (triton,) = pod.containers
    assert {p.container_port for p in triton.ports} == {8000, 8001, 8002}
    assert triton.resources.limits["nvidia.com/gpu"] == "2"
    assert pod.node_selector == {"pool": "h100"}
    assert pod.tolerations[0].key == "nvidia.com/gpu"
    mounts = {m.name: m for m in triton.volume_mounts}
    assert mounts["checkpoints"].read_only
    assert mounts["checkpoints"].mount_path == "/checkpoints"
    (writer,) = pod.init_containers
    assert writer.image == "kiseki:1"
    assert writer.command[-3:] == ["--checkpoint", CHECKPOINT.uri, "--gpu"]
    assert pod.automount_service_account_token is False
    for container in (triton, writer):
        assert container.security_context.read_only_root_filesystem
        assert container.security_context.capabilities.drop == ["ALL"]


def test_the_serving_container_keeps_large_blocks_on_the_heap() -> None:
    """Like the local tritonserver: fixed glibc thresholds, so a fresh model process does not
    page-fault a new mmap for every forward's activations."""
    pod: Any = pod_spec(_config(), CHECKPOINT, None, "e")
    env = {e.name: int(e.value) for e in pod.containers[0].env}
    assert env["MALLOC_MMAP_THRESHOLD_"] >= 32 * 2**20
    assert env["MALLOC_TRIM_THRESHOLD_"] >= env["MALLOC_MMAP_THRESHOLD_"]


def test_cpu_serving_asks_for_no_gpu_and_tolerates_no_taint() -> None:
    pod: Any = pod_spec(_config(gpus=0), CHECKPOINT, None, "e")
    assert "nvidia.com/gpu" not in pod.containers[0].resources.limits
    assert pod.tolerations is None


def test_trtllm_repository_writer_gets_the_engine_of_its_checkpoint() -> None:
    cfg = _config(backend="trtllm", engine_claim="engines")
    trtllm = TrtllmConfig(engine_dir="/engines", tokenizer_dir="/checkpoints")
    pod: Any = pod_spec(cfg, CHECKPOINT, trtllm, objects.object_name(CHECKPOINT.checkpoint_id))
    env = {e.name: e.value for e in pod.init_containers[0].env}
    assert (
        env["KISEKI_TRTLLM_ENGINE_DIR"]
        == f"/engines/{objects.object_name(CHECKPOINT.checkpoint_id)}"
    )
    assert env["KISEKI_TRTLLM_TOKENIZER_DIR"] == CHECKPOINT.uri
    assert any(v.name == "engines" for v in pod.volumes)
    assert objects.model_names(cfg, CHECKPOINT.checkpoint_id) == (
        "kiseki",
        "tensorrt_llm",
        "loglikelihood",
    )


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"mode": "knative"}, "KISEKI_K8S_MODE"),
        ({"backend": "vllm"}, "KISEKI_K8S_BACKEND"),
        ({"backend": "trtllm"}, "KISEKI_K8S_ENGINE_CLAIM"),
        ({"gpus": -1}, "KISEKI_K8S_GPUS"),
        ({"node_selector": ("pool",)}, "KISEKI_K8S_NODE_SELECTOR"),
    ],
)
def test_bad_settings_fail_naming_the_variable(overrides: dict[str, object], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        _config(**overrides).validate()
