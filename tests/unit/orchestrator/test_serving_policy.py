"""Per-run serving resources in the policy: defaults at the top, a run's keys over them,
every bad value refused naming its key, and what the deployers render from them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiseki.cli import main
from kiseki.orchestrator import kube_objects as objects
from kiseki.orchestrator.config import KubernetesConfig
from kiseki.orchestrator.deployer import DeployError, LocalTritonDeployer
from kiseki.orchestrator.kube_resources import run_configs
from kiseki.orchestrator.policy import PolicyError, parse_policies
from kiseki.orchestrator.serving_policy import ServingResources, Toleration
from kiseki.serving.endpoints import LocalEndpointManager
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.v1 import events_pb2 as ev

CLUSTER = {
    "serving": {"backend": "hf", "gpus": 1, "dtype": "bfloat16", "node_pool": "a100"},
    "budget": {"pools": {"a100": 16, "h100": 48}},
    "runs": {
        "*": {"suites": ["jnli"]},
        "llm-jp-3-172b": {
            "suites": ["jnli"],
            "weight": 2,
            "serving": {
                "backend": "trtllm",
                "gpus": 8,
                "tensor_parallel_size": 8,
                "memory": "1200Gi",
                "node_pool": "h100",
                "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "eval"}],
            },
        },
    },
}
CHECKPOINT = ev.CheckpointDiscovered(
    checkpoint_id="llm-jp-3-172b/step-1000", run_id="llm-jp-3-172b", step=1000,
    uri="/checkpoints/llm-jp-3-172b/checkpoint-1000",
)  # fmt: skip


def test_a_runs_serving_keys_go_over_the_policys_defaults() -> None:
    book = parse_policies(CLUSTER)
    small, big = book.for_run("llm-jp-3-150m"), book.for_run("llm-jp-3-172b")
    assert small is not None
    assert big is not None
    assert small.serving == ServingResources("hf", 1, None, "bfloat16", node_pool="a100")
    assert (big.serving.backend, big.serving.gpus, big.serving.dtype) == ("trtllm", 8, "bfloat16")
    assert big.serving.tolerations == (Toleration("dedicated", "Equal", "eval"),)
    assert (big.weight, small.weight) == (2.0, 1.0)
    assert book.serving_backends() == {"hf", "trtllm"}
    assert parse_policies({"runs": {"*": {"suites": ["x"]}}}).for_run("a").serving == (  # type: ignore[union-attr]
        ServingResources()
    )


def _with(serving: dict[str, Any]) -> dict[str, Any]:
    return {"runs": {"r": {"suites": ["x"], "serving": serving}}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_with({"gpu": 1}), r"runs.r.serving: unknown keys \['gpu'\]"),
        (_with({"backend": "onnx"}), r"runs.r.serving.backend: must be one of"),
        (_with({"gpus": -1}), r"runs.r.serving.gpus: expected an integer ≥ 0"),
        (_with({"gpus": 2, "tensor_parallel_size": 4}), r"serving.tensor_parallel_size: 4 needs"),
        (_with({"dtype": "fp8"}), r"runs.r.serving.dtype: must be one of"),
        (_with({"memory": "lots"}), r"runs.r.serving.memory: expected a Kubernetes quantity"),
        (_with({"node_selector": {"a": 1}}), r"runs.r.serving.node_selector: expected"),
        (_with({"tolerations": [{"key": "k", "operator": "In"}]}), r"tolerations\[0\].operator"),
        (_with({"vllm_threads": "two"}), r"runs.r.serving.vllm_threads: expected cores like"),
        (_with({"vllm_threads": 2}), r"runs.r.serving.vllm_threads: expected cores like"),
        ({"serving": {"gpus": "8"}, "runs": {}}, r"policy.json: serving.gpus: expected"),
        ({"runs": {"r": {"suites": ["x"], "weight": 0}}}, r"runs.r.weight: expected a number > 0"),
        ({"budget": {"gpus": 0}}, r"budget.gpus: expected an integer ≥ 1"),
        ({"budget": {"gpu": 8}}, r"budget: unknown keys \['gpu'\]"),
        ({"budget": {"min_share": 2}}, r"budget.min_share: expected a fraction"),
        ({"budget": {"live_headroom": -1}}, r"budget.live_headroom: expected an integer"),
        ({"budget": {"gpus": 4}, **_with({"gpus": 8})}, r"runs.r.serving.gpus: 8 GPUs, but the"),
        ({"budget": {"pools": {"h100": 8}}, **_with({})}, r"runs.r.serving.node_pool: '' is not"),
    ],
)
def test_bad_serving_and_budget_values_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policies(raw, "policy.json")


def test_policy_check_refuses_a_bad_serving_value_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(_with({"backend": "onnx"})))
    assert main(["policy", "check", str(policy)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "runs.r.serving.backend" in line
    policy.write_text(json.dumps(CLUSTER))
    assert main(["policy", "check", str(policy)]) == 0


def _cluster(**overrides: object) -> KubernetesConfig:
    values: dict[str, object] = {
        "namespace": "kiseki",
        "serving_image": "triton:1",
        "repository_image": "kiseki:1",
        "checkpoint_claim": "checkpoints",
        "engine_claim": "engines",
    }
    return KubernetesConfig(**(values | overrides))  # type: ignore[arg-type]


def test_a_runs_resources_are_rendered_into_its_pod_and_engine_build() -> None:
    big = parse_policies(CLUSTER).for_run("llm-jp-3-172b")
    assert big is not None
    trtllm = TrtllmConfig(engine_dir="/engines", tokenizer_dir="/checkpoints", image="trt:1")
    cfg, engine = run_configs(_cluster(), trtllm, big.serving)
    assert engine is not None
    assert engine.tensor_parallel == 8
    deployment, _ = objects.deployment(cfg, CHECKPOINT, engine, big.serving)
    pod: Any = deployment.spec.template.spec
    (triton,) = pod.containers
    assert triton.image == "trt:1"
    assert triton.resources.limits == {"memory": "1200Gi", "nvidia.com/gpu": "8"}
    assert pod.node_selector == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert [(t.key, t.value) for t in pod.tolerations] == [
        ("nvidia.com/gpu", None),
        ("dedicated", "eval"),
    ]
    job: Any = objects.build_job(cfg, engine, CHECKPOINT, big.serving)
    build = job.spec.template.spec
    assert build.containers[0].resources.limits["nvidia.com/gpu"] == "8"
    assert "--tp_size 8" in build.containers[0].command[-1]
    assert build.node_selector == pod.node_selector
    assert [t.key for t in build.tolerations] == ["nvidia.com/gpu", "dedicated"]


def test_the_python_backend_gets_the_runs_scorer_and_dtype() -> None:
    serving = ServingResources(backend="vllm", gpus=0, dtype="float16")
    cfg, engine = run_configs(_cluster(backend="trtllm"), None, serving)
    assert engine is None
    assert cfg.backend == "python"
    service: Any = objects.inference_service(cfg, CHECKPOINT, None, serving)
    predictor = service.spec.predictor
    command = predictor.init_containers[0].command
    assert command[-4:] == ["--backend", "vllm", "--dtype", "float16"]
    assert "nvidia.com/gpu" not in predictor.containers[0].resources.limits
    assert predictor.tolerations is None
    with pytest.raises(DeployError, match=r"trtllm needs the KISEKI_TRTLLM_"):
        run_configs(_cluster(), None, ServingResources(backend="trtllm"))


def test_vllm_threads_reach_the_serving_pod_and_the_local_model() -> None:
    policy = parse_policies(_with({"backend": "vllm", "vllm_threads": "0-3"})).for_run("r")
    assert policy is not None
    assert policy.serving.vllm_threads == "0-3"
    cfg, _ = run_configs(_cluster(), None, policy.serving)
    deployment, _ = objects.deployment(cfg, CHECKPOINT, None, policy.serving)
    pod: Any = deployment.spec.template.spec
    command = pod.init_containers[0].command
    assert command[command.index("--vllm-threads") + 1] == "0-3"
    local = LocalTritonDeployer(LocalEndpointManager(Path("unused")))
    assert local._options(policy.serving).vllm_threads_bind == "0-3"


async def test_the_local_deployer_refuses_a_trtllm_run_naming_it(tmp_path: Path) -> None:
    deployer = LocalTritonDeployer(LocalEndpointManager(tmp_path))
    hf = ev.CheckpointDiscovered(
        checkpoint_id="c", run_id="big", uri=str(tmp_path), format=ev.CHECKPOINT_FORMAT_HF
    )
    with pytest.raises(DeployError, match=r"run big: serving\.backend trtllm needs the kubernetes"):
        await deployer.deploy(hf, ServingResources(backend="trtllm"))
    assert not deployer.manager.loaded
