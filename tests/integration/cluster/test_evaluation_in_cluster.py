"""The long form of `make cluster-test`: an evaluation inside the single-node cluster, as an
operator runs one. The "training" writes a real checkpoint into the run directory on the
checkpoint volume → the watcher finds it → the orchestrator creates a serving Deployment whose
tritonserver pod (the Triton image, CPU) loads it → the runners score (one runner pod is deleted
in the middle of a job: its job is scored again whole and every sample stored once), the sink
writes the in-cluster ClickHouse server → `tools/kiseki` reads the scores from outside the
cluster through the server's Service. The broker is Apache Kafka (KRaft) in a pod. Then `helm
upgrade` with a changed value and `helm uninstall`, which leave nothing of the release or of
what its orchestrator made. Runs before test_single_node.py (file order), on the same cluster,
and leaves the namespace gone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s
from singlenode import cluster as single_node

from kiseki.local.paths import REPO
from support.chart import CHART
from support.cluster import (
    NAMESPACE,
    RELEASE,
    folders_for_pods,
    helm,
    install_dependencies,
    kubectl,
    release_left,
    release_values,
    unavailable,
    until,
    why_no_cluster,
)
from support.polling import poll_until

# The long form only: conftest.py leaves this file out of `make test`.
pytestmark = pytest.mark.skipif(why_no_cluster() is not None, reason=str(why_no_cluster()))

RUN, STEP = "tiny", 60
SUITES, SAMPLES = ["synth_nli", "synth_qa"], 40  # three jobs of 40 samples: seconds each
# Generation of both suites, log-likelihood of synth_nli (synth_qa has no labels).
ROWS = 3 * SAMPLES
POLICY = {
    "runs": {
        "*": {
            "suites": SUITES,
            "scoring_modes": ["generate", "loglikelihood"],
            "select": "all",
            "order": "oldest",
            "num_few_shots": 0,
            "shards": 1,
            "max_num_samples": SAMPLES,
        }
    }
}
SERVING = f"kiseki.dev/run-id={RUN}"
# tritonserver imports torch and transformers on a loaded 2-core host before it is ready.
SERVING_READY_S, SCORED_S = 600.0, 900.0


def _serving(cluster: single_node.Cluster) -> list[Any]:
    with cluster.api() as api:
        listed: Any = k8s.AppsV1Api(api).list_namespaced_deployment(
            NAMESPACE, label_selector=SERVING
        )
    return list(listed.items)


def _kiseki(store: str, *args: str) -> list[dict[str, Any]]:
    """`tools/kiseki ARGS --store STORE --format json` from this host, outside the cluster."""
    done = subprocess.run(
        [str(REPO / "tools" / "kiseki"), *args, "--store", store, "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        return []
    rows: list[dict[str, Any]] = json.loads(done.stdout or "[]")
    return rows


def _scores(store: str) -> list[dict[str, Any]]:
    return _kiseki(store, "scores", RUN, "--dataset", SUITES[0], "--mode", "generate")


def _stored(store: str) -> dict[str, Any]:
    counted = _kiseki(
        store, "sql", "SELECT count() AS rows, uniqExact(dataset, sample_index, scoring_mode)"
        " AS distinct_rows FROM sample_results FINAL",
    )  # fmt: skip
    return counted[0] if counted else {}


def _runner_in_a_job(cluster_dir: Path) -> str:
    """The runner pod whose log (the kubelet writes it in the work directory) shows a job
    started and not done yet, or ""."""
    for log in (cluster_dir / "pod-logs").glob(f"{NAMESPACE}_{RELEASE}-runner-*/runner/*.log"):
        text = log.read_text(errors="replace")
        if text.count('"job started"') > text.count('"job done"'):
            return log.parent.parent.name.split("_")[1]
    return ""


def _clickhouse_url(cluster: single_node.Cluster) -> str:
    with cluster.api() as api:
        service: Any = k8s.CoreV1Api(api).read_namespaced_service("clickhouse", NAMESPACE)
    return f"http://kiseki@{service.spec.cluster_ip}:8123/kiseki"


def test_a_checkpoint_is_evaluated_inside_the_cluster_then_upgrade_and_uninstall(
    cluster: single_node.Cluster,
    built_images: dict[str, str],
    cluster_dir: Path,
    tiny_checkpoints: dict[int, Path],
    tmp_path: Path,
) -> None:
    folders = folders_for_pods(cluster_dir)
    shutil.copytree(REPO / "datasets" / "synthetic", folders["kiseki-datasets"], dirs_exist_ok=True)
    install_dependencies(cluster, built_images["kiseki"], folders, broker="kafka")
    values = tmp_path / "policy.yaml"
    values.write_text(yaml.safe_dump({"policy": POLICY}))
    chart = [
        "kiseki",
        str(CHART),
        "-n",
        NAMESPACE,
        *release_values(built_images, "-f", str(values)),
    ]
    helm(cluster, "install", *chart)
    until(cluster, lambda: not unavailable(cluster), 300.0)

    run_dir = folders["kiseki-checkpoints"] / RUN
    trained = shutil.copytree(tiny_checkpoints[STEP], run_dir / f"checkpoint-{STEP}")
    for path in (trained, *trained.rglob("*")):  # as the pods' users (10001, 1000) read it
        path.chmod(0o755 if path.is_dir() else 0o644)
    until(cluster, lambda: _serving(cluster), 300.0)
    # A runner pod deleted in the middle of a job: its job goes to the runner that replaces it.
    runner = poll_until(lambda: _runner_in_a_job(cluster_dir), SERVING_READY_S, interval_s=0.02)
    with cluster.api() as api:
        k8s.CoreV1Api(api).delete_namespaced_pod(runner, NAMESPACE, grace_period_seconds=0)
    store = _clickhouse_url(cluster)
    rows = until(cluster, lambda: [r for r in _scores(store) if r.get("step") == STEP], SCORED_S)
    assert rows[0]["dataset"] == SUITES[0], rows
    until(cluster, lambda: _stored(store).get("rows") == ROWS, SCORED_S)
    # Every (dataset, sample, mode) once: the deleted runner's job was scored again whole.
    assert _stored(store) == {"rows": ROWS, "distinct_rows": ROWS}
    until(cluster, lambda: not _serving(cluster), 300.0)  # torn down once the job is done

    helm(cluster, "upgrade", *chart, "--set", "runner.replicas=2")
    until(cluster, lambda: _available_replicas(cluster, f"{RELEASE}-runner") == 2, 300.0)
    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    until(cluster, lambda: release_left(cluster) == "", 120.0)
    kubectl(cluster, "delete", "namespace", NAMESPACE, "--wait=true", "--timeout=180s")
    kubectl(cluster, "delete", "persistentvolumes", "--all", "--wait=true")
    shutil.rmtree(cluster_dir / "volumes")


def _available_replicas(cluster: single_node.Cluster, name: str) -> int:
    with cluster.api() as api:
        deployment: Any = k8s.AppsV1Api(api).read_namespaced_deployment(name, NAMESPACE)
    return int(deployment.status.available_replicas or 0)
