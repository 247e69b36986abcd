"""helm and kubectl as built by `make setup-kube`, and the chart's rendered objects."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]
from kubernetes import client as k8s
from kubernetes import utils as k8s_utils
from singlenode.layout import helm_binary, kube_tools_dir

from kiseki.local.paths import versions
from support.kube import ControlPlane
from support.polling import poll_until

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kiseki"
EXAMPLE_VALUES = CHART / "examples" / "gpu-cluster.yaml"
# The values of an install on one CPU-only node, with the images `make images` builds.
SINGLE_NODE_VALUES = CHART / "examples" / "single-node.yaml"
# Stand-ins for the CRDs of KServe, KEDA and Prometheus Operator (open schemas).
CRDS = sorted((REPO / "k8s" / "crds").glob("*.yaml"))


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    # helm built from its module renders for Kubernetes 1.20 unless told: use the test server's.
    if args[0] == "template":
        args = (*args, "--kube-version", versions()["KUBE_VERSION"])
    return run([str(helm_binary()), *args], check=check)


def kubectl(kubeconfig: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    argv = [str(kube_tools_dir() / "kubectl"), f"--kubeconfig={kubeconfig}", *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
    return done


def render(*args: str, namespace: str = "kiseki") -> list[dict[str, Any]]:
    """The chart's objects as `helm template` renders them (hooks included)."""
    text = helm("template", "kiseki", str(CHART), "--namespace", namespace, *args).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


def install_rbac(kube: ControlPlane, namespace: str, values: list[str]) -> None:
    """Create the chart's ServiceAccounts, Role and RoleBinding, and wait until the API
    server's RBAC authorizer (fed by an informer, so a moment behind) applies the Role."""
    role: dict[str, Any] = {}
    with kube.admin() as api:
        for manifest in render(*values, namespace=namespace):
            if manifest["kind"] in {"ServiceAccount", "Role", "RoleBinding"}:
                k8s_utils.create_from_dict(api, manifest, namespace=namespace)
                role = manifest if manifest["kind"] == "Role" else role
        rule = role["rules"][0]
        attributes = k8s.V1ResourceAttributes(
            namespace=namespace,
            verb=rule["verbs"][0],
            group=rule["apiGroups"][0],
            resource=rule["resources"][0],
        )
        review = k8s.V1SubjectAccessReview(
            spec=k8s.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{namespace}:kiseki-orchestrator",
                resource_attributes=attributes,
            )
        )
        authorization = k8s.AuthorizationV1Api(api)

        def applied() -> bool:
            done: Any = authorization.create_subject_access_review(review)
            return bool(done.status.allowed)

        poll_until(applied, timeout_s=10)
