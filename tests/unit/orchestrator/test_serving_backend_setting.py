"""KISEKI_SERVING_BACKEND picks what the local deployer's endpoints score with."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiseki.core.config import ConfigError, load_config
from kiseki.orchestrator.__main__ import make_deployer
from kiseki.orchestrator.config import OrchestratorConfig
from kiseki.orchestrator.deployer import LocalTritonDeployer


def _config(tmp_path: Path, backend: str | None) -> OrchestratorConfig:
    environ = {"KISEKI_POLICY_FILE": "p.yaml", "KISEKI_ORCHESTRATOR_WORKDIR": str(tmp_path)}
    if backend is not None:
        environ["KISEKI_SERVING_BACKEND"] = backend
    return load_config(OrchestratorConfig, environ)


@pytest.mark.parametrize(("backend", "expected"), [(None, "hf"), ("vllm", "vllm")])
def test_the_local_deployer_serves_with_the_named_backend(
    tmp_path: Path, backend: str | None, expected: str
) -> None:
    deployer = make_deployer(_config(tmp_path, backend))
    assert isinstance(deployer, LocalTritonDeployer)
    assert deployer.manager.options.backend == expected


def test_an_unknown_backend_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KISEKI_SERVING_BACKEND='tgi'"):
        make_deployer(_config(tmp_path, "tgi"))


def test_vllm_threads_come_from_the_environment_and_bad_ones_name_it(tmp_path: Path) -> None:
    environ = {"KISEKI_POLICY_FILE": "p.yaml", "KISEKI_ORCHESTRATOR_WORKDIR": str(tmp_path)}
    config = load_config(OrchestratorConfig, environ | {"KISEKI_SERVING_VLLM_THREADS": "0-1"})
    deployer = make_deployer(config.validate())
    assert isinstance(deployer, LocalTritonDeployer)
    assert deployer.manager.options.vllm_threads_bind == "0-1"
    bad = load_config(OrchestratorConfig, environ | {"KISEKI_SERVING_VLLM_THREADS": "both"})
    with pytest.raises(ConfigError, match="KISEKI_SERVING_VLLM_THREADS='both'"):
        bad.validate()
