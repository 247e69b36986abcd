"""The kustomize base holds the chart's objects (rendered from it, checked current) and the
example overlay builds and passes a server-side dry-run apply on a real API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import k8s_base
import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s

from support.chart import REPO, kubectl, render
from support.kube import ControlPlane

OVERLAY = REPO / "k8s" / "overlays" / "example"


def test_base_is_the_chart_with_default_values() -> None:
    committed = k8s_base.BASE.read_text()
    assert committed == k8s_base.render(), "k8s/base is stale: run `make k8s-base`"
    base = yaml.safe_load_all(committed)
    chart = [o for o in render() if o["kind"] != "Pod"]  # less the helm test hook
    assert sorted((o["kind"], o["metadata"]["name"]) for o in base) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in chart
    )


def test_example_overlay_builds_and_applies(kube: ControlPlane, kubeconfig: Path) -> None:
    built = kubectl(kubeconfig, "kustomize", str(OVERLAY)).stdout
    objects: list[dict[str, Any]] = [o for o in yaml.safe_load_all(built) if o]
    assert {o["metadata"]["namespace"] for o in objects} == {"kiseki-study"}
    runner = next(o for o in objects if o["metadata"]["name"] == "kiseki-runner")
    assert runner["spec"]["replicas"] == 4
    role = next(o for o in objects if o["kind"] == "Role")
    assert role["rules"][0]["resources"] == ["inferenceservices"]
    binding = next(o for o in objects if o["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "kiseki-study"

    with kube.admin() as api:
        core = k8s.CoreV1Api(api)
        existing: Any = core.list_namespace().items
        if not any(n.metadata.name == "kiseki-study" for n in existing):
            core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name="kiseki-study")))
    done = kubectl(kubeconfig, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=built)
    assert done.stdout.count("serverside-applied") == len(objects)
