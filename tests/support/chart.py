"""helm and kubectl as built by `make setup`, and the chart's rendered objects."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kiseki.local.paths import versions
from support.kube import helm_binary, kube_tools_dir

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kiseki"
EXAMPLE_VALUES = CHART / "examples" / "gpu-cluster.yaml"
KSERVE_CRD = REPO / "k8s" / "crds" / "inferenceservices.serving.kserve.io.yaml"


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
