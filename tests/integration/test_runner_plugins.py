"""What a task-runner installs at start: the sandbox always, COMET when a model is mounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.evaluation.metrics import MetricUnavailable, require_plugins
from kiseki.evaluation.metrics.code_exec import install_code_runner
from kiseki.evaluation.metrics.comet import comet_package, install_comet_scorer
from kiseki.runner.config import RunnerConfig
from kiseki.runner.plugins import install_plugins
from support.sandbox import sandbox_config


@pytest.fixture(autouse=True)
def uninstalled() -> Iterator[None]:
    yield
    install_code_runner(None)
    install_comet_scorer(None)


def _config(tmp_path: Path, comet: Path | None = None) -> RunnerConfig:
    return RunnerConfig(datasets_dir=tmp_path, comet_model_dir=comet)


def test_the_sandbox_is_installed_and_comet_only_when_set(tmp_path: Path) -> None:
    install_plugins(_config(tmp_path), sandbox_config())
    require_plugins(["code_exec"])
    with pytest.raises(MetricUnavailable, match="KISEKI_COMET_MODEL_DIR"):
        require_plugins(["comet_wmt22"])


def test_a_sandbox_that_cannot_run_leaves_code_exec_jobs_to_fail(tmp_path: Path) -> None:
    install_plugins(_config(tmp_path), sandbox_config(python="/nonexistent/python3"))
    with pytest.raises(MetricUnavailable, match="needs a sandbox"):
        require_plugins(["code_exec"])


def test_a_mounted_dir_without_a_model_stops_the_runner_saying_so(tmp_path: Path) -> None:
    with pytest.raises(MetricUnavailable, match="holds no COMET model"):
        install_plugins(_config(tmp_path, tmp_path / "comet"), sandbox_config())


@pytest.mark.skipif(comet_package() is not None, reason="unbabel-comet in this environment")
def test_a_model_without_the_package_stops_the_runner_saying_so(tmp_path: Path) -> None:
    model = tmp_path / "comet"
    (model / "checkpoints").mkdir(parents=True)
    (model / "checkpoints" / "model.ckpt").write_bytes(b"")
    (model / "hparams.yaml").write_text("class_identifier: regression_metric\n")
    with pytest.raises(MetricUnavailable, match="'unbabel-comet' package is not installed"):
        install_plugins(_config(tmp_path, model), sandbox_config())


def test_a_comet_python_that_cannot_start_stops_the_runner_saying_so(tmp_path: Path) -> None:
    model = tmp_path / "comet"
    (model / "checkpoints").mkdir(parents=True)
    (model / "checkpoints" / "model.ckpt").write_bytes(b"")
    (model / "hparams.yaml").write_text("class_identifier: regression_metric\n")
    config = RunnerConfig(
        datasets_dir=tmp_path, comet_model_dir=model, comet_python=tmp_path / "no-python"
    )
    with pytest.raises(MetricUnavailable, match=r"cannot start .*no-python"):
        install_plugins(config, sandbox_config())
