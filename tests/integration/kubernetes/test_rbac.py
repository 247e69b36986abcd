"""The orchestrator's ServiceAccount can do exactly what its deployer needs, and no more:
SubjectAccessReviews against the chart's Role, on a real API server with RBAC on."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from kubernetes import client as k8s

from support.chart import install_rbac, render
from support.kube import ControlPlane

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RESOURCES = (
    ("apps", "deployments", ""),
    ("apps", "deployments", "status"),
    ("apps", "replicasets", ""),
    ("", "services", ""),
    ("", "pods", ""),
    ("", "pods", "exec"),
    ("", "secrets", ""),
    ("", "configmaps", ""),
    ("", "serviceaccounts", "token"),
    ("serving.kserve.io", "inferenceservices", ""),
    ("serving.kserve.io", "inferenceservices", "status"),
    ("batch", "jobs", ""),
    ("batch", "jobs", "status"),
    ("rbac.authorization.k8s.io", "roles", ""),
    ("rbac.authorization.k8s.io", "rolebindings", ""),
)
CRUD = {"get", "list", "create", "delete"}
NEEDED = {
    # A Deployment and its Service kept warm are relabelled for the checkpoint taking them.
    "deployment": {
        ("apps", "deployments", ""): CRUD | {"patch"},
        ("", "services", ""): {"create", "patch", "delete"},
    },
    "kserve": {("serving.kserve.io", "inferenceservices", ""): CRUD},
}
TRTLLM_JOBS = {("batch", "jobs", ""): {"get", "create", "delete"}}
# Conversion Jobs, and their pods listed for a failed one's termination message.
CONVERSION = TRTLLM_JOBS | {("", "pods", ""): {"list"}}
MODES = {
    "deployment": ([], NEEDED["deployment"]),
    "kserve": (["--set", "serving.mode=kserve"], NEEDED["kserve"]),
    "kserve-trtllm": (
        ["--set", "serving.mode=kserve", "--set", "serving.backend=trtllm",
         "--set", "serving.trtllm.engineClaim=engines"],
        NEEDED["kserve"] | TRTLLM_JOBS,
    ),
    "deployment-conversion": (
        ["--set", "conversion.existingClaim=converted"],
        NEEDED["deployment"] | CONVERSION,
    ),
    "kserve-trtllm-conversion": (
        ["--set", "serving.mode=kserve", "--set", "serving.backend=trtllm",
         "--set", "serving.trtllm.engineClaim=engines",
         "--set", "conversion.existingClaim=converted"],
        NEEDED["kserve"] | CONVERSION,
    ),
}  # fmt: skip


def _allowed(api: k8s.ApiClient, namespace: str, user_ns: str, check: tuple[str, ...]) -> bool:
    verb, group, resource, subresource = check
    user = f"system:serviceaccount:{user_ns}:kiseki-orchestrator"
    review = k8s.V1SubjectAccessReview(
        spec=k8s.V1SubjectAccessReviewSpec(
            user=user,
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{user_ns}",
                "system:authenticated",
            ],
            resource_attributes=k8s.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource,
                subresource=subresource or None,
            ),
        )
    )  # fmt: skip
    done: Any = k8s.AuthorizationV1Api(api).create_subject_access_review(review)
    return bool(done.status.allowed)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_orchestrator_role_is_exactly_what_the_deployer_needs(
    mode: str, kube: ControlPlane, namespace: str
) -> None:
    values, needed = MODES[mode]
    install_rbac(kube, namespace, values)
    with kube.admin() as api:
        granted = {
            (verb, *target)
            for verb, target in itertools.product(VERBS, RESOURCES)
            if _allowed(api, namespace, namespace, (verb, *target))
        }
        expected = {(verb, *target) for target, verbs in needed.items() for verb in verbs}
        assert granted == expected
        # Nothing at all outside its own namespace.
        assert not any(
            _allowed(api, "kube-system", namespace, (verb, *target)) for verb, target in
            itertools.product(("get", "create", "delete"), RESOURCES)
        )  # fmt: skip


def test_other_services_get_no_token() -> None:
    accounts = [o for o in render() if o["kind"] == "ServiceAccount"]
    plain = next(a for a in accounts if a["metadata"]["name"] == "kiseki")
    assert plain["automountServiceAccountToken"] is False
