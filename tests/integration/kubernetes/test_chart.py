"""The Helm chart: lint, template with the default and example values, and a server-side
dry-run apply of everything it renders on a real API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from singlenode.layout import helm_binary

from kiseki.core.config import load_config
from kiseki.core.grpc_auth import GrpcAuthConfig
from kiseki.core.kafka_config import KafkaConfig
from kiseki.core.service import ServiceConfig
from kiseki.core.store.config import StoreConfig
from kiseki.orchestrator.config import KubernetesConfig, OrchestratorConfig
from kiseki.orchestrator.policy_file import load_policies
from kiseki.runner.config import RunnerConfig
from kiseki.sandbox.config import SandboxConfig
from kiseki.serving.trtllm.config import TrtllmConfig
from kiseki.sink.config import SinkConfig
from kiseki.watcher.config import WatcherConfig
from kiseki.watcher.runs import parse_runs
from support.chart import CHART, EXAMPLE_VALUES, SINGLE_NODE_VALUES, helm, kubectl, render, run

VARIANTS = {
    "default": [],
    "example": ["-f", str(EXAMPLE_VALUES)],
    "single-node": ["-f", str(SINGLE_NODE_VALUES)],
    "trtllm": ["--set", "serving.backend=trtllm", "--set", "serving.trtllm.engineClaim=engines"],
}


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize(
    "values",
    [[], ["-f", str(EXAMPLE_VALUES)], ["-f", str(SINGLE_NODE_VALUES)]],
    ids=["default", "example", "single-node"],
)
def test_helm_lint_passes(values: list[str]) -> None:
    done = helm("lint", "--strict", str(CHART), *values)
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("serving.mdoe=kserve", "additional properties 'mdoe' not allowed"),
        ("serving.mode=knative", "at '/serving/mode': value must be one of"),
        ("runner.replicas=-1", "at '/runner/replicas': minimum"),
        ("checkpoints.mountPath=relative", "at '/checkpoints/mountPath'"),
        ("policy.serving.gpu=1", "additional properties 'gpu' not allowed"),
        ("policy.runs.big.serving.backend=onnx", "at '/policy/runs/big/serving/backend'"),
    ],
)
def test_schema_rejects_typos_and_bad_values(setting: str, complaint: str) -> None:
    done = helm("template", "kiseki", str(CHART), "--set", setting, check=False)
    assert done.returncode != 0
    assert complaint in done.stderr


def test_helm_template_renders_as_a_gitops_user_runs_it() -> None:
    """No --kube-version (helm then assumes Kubernetes 1.20) and no cluster: it renders."""
    done = run([str(helm_binary()), "template", "kiseki", str(CHART), "-f", str(EXAMPLE_VALUES)])
    assert "kind: Deployment" in done.stdout


def test_trtllm_backend_requires_an_engine_claim() -> None:
    done = helm("template", "kiseki", str(CHART), "--set", "serving.backend=trtllm", check=False)
    assert done.returncode != 0
    assert "serving.trtllm.engineClaim is required" in done.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_services_are_hardened_and_probed(variant: str) -> None:
    objects = render(*VARIANTS[variant])
    deployments = {d["metadata"]["name"]: d for d in _by_kind(objects, "Deployment")}
    assert sorted(deployments) == [
        f"kiseki-{c}" for c in ("orchestrator", "runner", "sink", "watcher")
    ]
    images = set()
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]
        spec, annotations = pod["spec"], pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert spec["securityContext"]["runAsNonRoot"] is True
        (container,) = spec["containers"]
        images.add(container["image"])
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"]
        assert not context["allowPrivilegeEscalation"]
        assert context["capabilities"]["drop"] == ["ALL"]
        assert {"livenessProbe", "readinessProbe", "startupProbe"} <= container.keys()
        assert container["resources"]["requests"]
        assert container["resources"]["limits"]
        claims = [v for v in spec["volumes"] if "persistentVolumeClaim" in v]
        assert all(v["persistentVolumeClaim"]["readOnly"] for v in claims)
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert all(mounts[v["name"]]["readOnly"] for v in claims)
    assert len(images) == 1  # one image, a command per service
    watcher = deployments["kiseki-watcher"]["spec"]["template"]["spec"]
    assert any(v["name"] == "checkpoints" for v in watcher["volumes"])


@pytest.mark.parametrize("variant", ["default", "example"])
def test_configmap_holds_runs_and_policy_the_services_accept(variant: str, tmp_path: Path) -> None:
    (config,) = _by_kind(render(*VARIANTS[variant]), "ConfigMap")[:1]
    runs = tmp_path / "runs.json"
    rendered = json.loads(config["data"]["runs.json"])
    # A run's tokenizer directory is read at load; it lives on the cluster's volume, so the
    # test stands one in for it (the rendered path itself is checked to be there).
    tokenizer = tmp_path / "tokenizer"
    tokenizer.mkdir()
    (tokenizer / "tokenizer.json").write_text("{}")
    for watched in rendered:
        if "tokenizer" in watched:
            assert watched["tokenizer"].startswith("/checkpoints/")
            watched["tokenizer"] = str(tokenizer)
    runs.write_text(json.dumps(rendered))
    assert parse_runs(json.loads(runs.read_text()), runs)
    policy = tmp_path / "policy.json"
    policy.write_text(config["data"]["policy.json"])
    assert load_policies(policy).max_endpoints >= 1


def test_example_values_use_secrets_kserve_and_gpus() -> None:
    objects = render(*VARIANTS["example"])
    orchestrator = next(
        d for d in _by_kind(objects, "Deployment") if d["metadata"]["name"] == "kiseki-orchestrator"
    )
    env = {e["name"]: e for e in orchestrator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KISEKI_K8S_MODE"]["value"] == "kserve"
    assert (
        env["KISEKI_K8S_NODE_SELECTOR"]["value"] == "nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3"
    )
    assert (
        env["KISEKI_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == "kiseki-kafka-user"
    )
    assert env["KISEKI_K8S_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["KISEKI_CONTROL_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "kiseki-control",
        "key": "token",
    }
    pod = orchestrator["spec"]["template"]["spec"]
    (tls,) = [v for v in pod["volumes"] if v["name"] == "control-tls"]
    assert tls["secret"]["secretName"] == "kiseki-control-tls"
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert env["KISEKI_CONTROL_TLS_CERT"]["value"] == f"{mounts['control-tls']}/tls.crt"
    assert env["KISEKI_CONTROL_TLS_KEY"]["value"] == f"{mounts['control-tls']}/tls.key"
    sink = next(
        d for d in _by_kind(objects, "Deployment") if d["metadata"]["name"] == "kiseki-sink"
    )
    sink_env = {e["name"]: e for e in sink["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert sink_env["KISEKI_CLICKHOUSE_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    dashboards = [c for c in _by_kind(objects, "ConfigMap") if "dashboard" in c["metadata"]["name"]]
    (dashboard,) = dashboards
    panels = json.loads(dashboard["data"]["kiseki-trajectories.json"])["panels"]
    assert any("category_trajectory" in json.dumps(p) for p in panels)
    (role,) = _by_kind(objects, "Role")
    # Jobs: the 172B run's serving.backend is trtllm, so engines are built.
    assert [r["apiGroups"] for r in role["rules"]] == [["serving.kserve.io"], ["batch"]]


def test_helm_test_hook_is_rendered() -> None:
    pods = [o for o in render() if o["kind"] == "Pod"]
    (hook,) = pods
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_server_side_dry_run_apply_of_everything_rendered(
    variant: str, kubeconfig: Path, namespace: str
) -> None:
    manifest = helm(
        "template", "kiseki", str(CHART), "--namespace", namespace, *VARIANTS[variant]
    ).stdout
    done = kubectl(
        kubeconfig, "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-",
        stdin=manifest,
    )  # fmt: skip
    applied = [line for line in done.stdout.splitlines() if "serverside-applied" in line]
    assert len(applied) == len(render(*VARIANTS[variant], namespace=namespace))


SERVICE_CONFIGS: dict[str, tuple[type, ...]] = {
    "watcher": (ServiceConfig, KafkaConfig, WatcherConfig),
    "orchestrator": (
        ServiceConfig,
        KafkaConfig,
        OrchestratorConfig,
        KubernetesConfig,
        GrpcAuthConfig,
    ),
    "runner": (ServiceConfig, KafkaConfig, RunnerConfig, SandboxConfig),
    "sink": (ServiceConfig, KafkaConfig, SinkConfig, StoreConfig),
}


def _pod_environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's variables; those from Secrets or the downward API get a stand-in."""
    return {
        e["name"]: e["value"] if "value" in e else f"from-{next(iter(e['valueFrom']))}"
        for e in container["env"]
    }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_service_reads_its_settings_from_the_rendered_environment(variant: str) -> None:
    for deployment in _by_kind(render(*VARIANTS[variant]), "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        component = container["command"][-1].removeprefix("kiseki.")
        environ = _pod_environment(container)
        for config in SERVICE_CONFIGS[component]:
            loaded: object = load_config(config, environ)
            if isinstance(loaded, KubernetesConfig):
                assert loaded.validate().checkpoint_mount == "/checkpoints"
        if component == "orchestrator" and variant == "trtllm":
            assert load_config(TrtllmConfig, environ).validate().tensor_parallel == 1
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        if component == "orchestrator":
            auth = load_config(GrpcAuthConfig, environ)
            assert bool(auth.token) == bool(auth.tls_cert) == (variant == "example")
        files = ("KISEKI_WATCH_RUNS_FILE", "KISEKI_POLICY_FILE", "KISEKI_CONTROL_TLS_CERT")
        for variable in files:
            if variable in environ:
                assert str(Path(environ[variable]).parent) in mounts


def test_helm_install_dry_run_against_the_server_prints_the_notes(
    kubeconfig: Path, namespace: str
) -> None:
    done = helm(
        "install", "kiseki", str(CHART), "--namespace", namespace, "--kubeconfig", str(kubeconfig),
        "--dry-run=server", "-f", str(EXAMPLE_VALUES),
    )  # fmt: skip
    assert "STATUS: pending-install" in done.stdout
    assert f"helm test kiseki -n {namespace}" in done.stdout  # NOTES.txt, rendered
    assert "KServe InferenceService (RawDeployment)" in done.stdout
    assert "KISEKI_CONTROL_TOKEN set to the token in Secret kiseki-control" in done.stdout


@pytest.mark.parametrize("variant", ["default", "example"])
def test_runners_mount_the_comet_model_when_named_and_get_the_sandbox_limits(
    variant: str,
) -> None:
    deployments = {
        d["metadata"]["name"]: d for d in _by_kind(render(*VARIANTS[variant]), "Deployment")
    }
    spec = deployments["kiseki-runner"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    environ = _pod_environment(container)
    runner = load_config(RunnerConfig, environ)
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in spec["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    if variant == "example":
        assert runner.comet_model_dir == Path("/models/wmt22-comet-da")
        assert runner.comet_python == Path("/opt/comet/bin/python")  # the image's environment
        assert environ["HF_HUB_CACHE"] == "/models/wmt22-comet-da/hub"  # xlm-roberta-large
        assert "wmt22-comet-da" in claims
        assert "/models/wmt22-comet-da" in mounts
    else:
        assert runner.comet_model_dir is None
        assert runner.comet_python is None
        assert not any("comet" in claim for claim in claims)
    sandbox = load_config(SandboxConfig, environ)
    memory, workers = (1024**3, 4) if variant == "example" else (512 * 1024**2, 2)
    assert (sandbox.cpu_s, sandbox.wall_s, sandbox.memory_bytes) == (5, 10.0, memory)
    assert (sandbox.file_bytes, sandbox.processes, sandbox.workers) == (0, 8, workers)


OPERATIONS = [
    "-f", str(EXAMPLE_VALUES), "--set", "runner.autoscaling.enabled=true",
    "--set", "metrics.serviceMonitor.enabled=true", "--set", "networkPolicy.enabled=true",
    "--set", "metrics.serviceMonitor.labels.release=prometheus",
]  # fmt: skip


@pytest.mark.parametrize("group", ["", "llmjp3-runners"], ids=["default", "set"])
def test_keda_reads_the_lag_of_the_consumer_group_the_runners_join(group: str) -> None:
    chosen = ["--set", f"runner.consumerGroup={group}"] if group else []
    objects = render(*OPERATIONS, *chosen)
    runner = next(
        o for o in _by_kind(objects, "Deployment") if o["metadata"]["name"] == "kiseki-runner"
    )
    (container,) = runner["spec"]["template"]["spec"]["containers"]
    joined = load_config(RunnerConfig, _pod_environment(container)).group_id
    assert joined == (group or "kiseki-runners")
    (scaled,) = _by_kind(objects, "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["consumerGroup"] == joined


def test_operators_objects_scale_runners_within_the_budget_and_select_the_right_pods(
    kubeconfig: Path, namespace: str
) -> None:
    """KEDA's ScaledObject, the runners' PodDisruptionBudget, the ServiceMonitor and the
    NetworkPolicy: lint, render, and a server-side dry run with the CRDs' stand-ins loaded."""
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART), *OPERATIONS).stdout
    objects = render(*OPERATIONS, namespace=namespace)
    kinds = {o["kind"]: o for o in objects}
    runner = next(
        o for o in _by_kind(objects, "Deployment") if o["metadata"]["name"] == "kiseki-runner"
    )
    runner_labels = runner["spec"]["template"]["metadata"]["labels"]
    scaled = kinds["ScaledObject"]["spec"]
    assert scaled["scaleTargetRef"]["name"] == "kiseki-runner"
    assert scaled["maxReplicaCount"] == 64  # the example budget's GPUs, its endpoints' bound
    (trigger,) = scaled["triggers"]
    assert trigger["metadata"]["topic"] == "llmjp3.jobs"
    assert trigger["metadata"]["consumerGroup"] == "kiseki-runners"
    pdb = kinds["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= runner_labels.items()
    monitor = kinds["ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    metrics = next(
        s for s in _by_kind(objects, "Service") if s["metadata"]["name"] == "kiseki-metrics"
    )
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    )
    assert metrics["spec"]["selector"].items() <= runner_labels.items()
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= runner_labels.items()
    manifest = helm("template", "kiseki", str(CHART), "--namespace", namespace, *OPERATIONS).stdout
    done = kubectl(
        kubeconfig, "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", "-",
        stdin=manifest,
    )  # fmt: skip
    applied = [line for line in done.stdout.splitlines() if "serverside-applied" in line]
    assert len(applied) == len(objects)
    assert "scaledobject.keda.sh/kiseki-runner serverside-applied" in done.stdout
