"""The serving pod the orchestrator creates, run from the images `make images` builds: its init
container (the kiseki image) writes the model repository for a real checkpoint, then
tritonserver (the serving image) loads it on CPU with the Python backend and answers. Both as
the pod spec says: uid 1000, read-only root, no capabilities, the checkpoint read-only."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import pytest

from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.kube_pod import PORTS, pod_spec
from kiseki.v1 import events_pb2 as ev
from support.containers import container_engine, pod_container, url_of, wait_for_status

pytestmark = pytest.mark.skipif(container_engine() is not None, reason=str(container_engine()))

CHECKPOINT_ID = "tiny-s60"


def test_the_serving_pod_loads_a_checkpoint_on_cpu(
    built_images: dict[str, str],
    docker_api: docker.DockerClient,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
) -> None:
    # The claim as the pod's user (1000) reads it: pytest's folders are root's alone.
    claim = tmp_path / "checkpoints"
    trained = Path(shutil.copytree(tiny_checkpoints[60], claim / "tiny" / "checkpoint-60"))
    for path in (claim, *claim.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    checkpoint = ev.CheckpointDiscovered(
        checkpoint_id=CHECKPOINT_ID,
        run_id="tiny",
        step=60,
        uri=f"/checkpoints/tiny/{trained.name}",  # the claim is mounted at /checkpoints
        format=ev.CHECKPOINT_FORMAT_HF_TRAINER,
    )
    cfg = KubernetesConfig(
        namespace="kiseki",
        serving_image=built_images["triton"],
        repository_image=built_images["kiseki"],
        checkpoint_claim="checkpoints",
        gpus=0,
    )
    pod = pod_spec(cfg, checkpoint, None, "")
    models = tmp_path / "models"  # the pod's emptyDir, written by one container, read by the next
    models.mkdir(mode=0o777)
    models.chmod(0o777)
    folders = {"checkpoints": claim, "models": models}
    (init,) = pod.init_containers or []
    with pod_container(pod, init, folders) as writer:
        status = writer.get_wrapped_container().wait(timeout=300)
        assert status["StatusCode"] == 0, writer.get_logs()
    assert (models / CHECKPOINT_ID / "config.pbtxt").is_file()
    (main,) = pod.containers
    with pod_container(pod, main, folders).with_exposed_ports(PORTS["http"]) as triton:
        ready = url_of(triton, PORTS["http"], f"/v2/models/{CHECKPOINT_ID}/ready")
        try:
            wait_for_status(ready, 200, timeout_s=240.0)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{triton.get_logs()[1].decode()[-3000:]}") from None
        answer = generate(url_of(triton, PORTS["http"], f"/v2/models/{CHECKPOINT_ID}/infer"))
    assert answer["model_name"] == CHECKPOINT_ID
    assert [o["name"] for o in answer["outputs"]] == ["OUTPUT_TEXT"]


def generate(url: str) -> dict[str, Any]:
    """One generation over Triton's HTTP/JSON protocol, as the model's config declares it."""
    request = {
        "inputs": [
            {"name": "TEXT", "shape": [1, 1], "datatype": "BYTES", "data": ["今日は"]},
            {"name": "MAX_NEW_TOKENS", "shape": [1, 1], "datatype": "INT32", "data": [4]},
        ]
    }
    body = json.dumps(request).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as reply:
        answer: dict[str, Any] = json.load(reply)
    return answer
