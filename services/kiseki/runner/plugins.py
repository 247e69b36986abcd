"""What the evaluation core asks to be installed, installed once per runner process at start:
the sandbox for code_exec and, when a model is mounted, the COMET scorer for comet_wmt22 (in
a child process of COMET's own environment when KISEKI_COMET_PYTHON names one)."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from kiseki.comet.process import CometProcess
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.metrics.code_exec import install_code_runner
from kiseki.evaluation.metrics.comet import (
    CometScorer,
    install_comet_scorer,
    unbabel_comet_scorer,
)
from kiseki.runner.config import RunnerConfig
from kiseki.sandbox.config import SandboxConfig
from kiseki.sandbox.runner import SandboxError, SandboxRunner

log = logging.getLogger(__name__)


def comet_checkpoint(model_dir: Path) -> Path:
    """The checkpoint in a hub snapshot of a COMET model, as `comet.download_model` lays it."""
    checkpoint = model_dir / "checkpoints" / "model.ckpt"
    if not checkpoint.is_file() or not (model_dir / "hparams.yaml").is_file():
        raise MetricUnavailable(
            f"comet_wmt22: {model_dir} holds no COMET model (hparams.yaml, checkpoints/model.ckpt)"
        )
    return checkpoint


def _gpus() -> int:
    torch = importlib.import_module("torch")  # only where COMET is used, which imports it too
    return 1 if torch.cuda.is_available() else 0


def comet_scorer(config: RunnerConfig, model_dir: Path) -> CometScorer:
    """The scorer of the model in `model_dir`, loaded now: in a child process of
    KISEKI_COMET_PYTHON's environment, or else in this process."""
    checkpoint = comet_checkpoint(model_dir)
    if config.comet_python is None:
        return unbabel_comet_scorer(str(checkpoint), config.comet_batch_size, _gpus())
    process = CometProcess(
        config.comet_python, checkpoint, config.comet_batch_size, config.comet_start_timeout_s
    )
    process.start()
    log.info("COMET loaded", extra={"pid": process.pid, "gpus": process.gpus})
    return process


def install_plugins(config: RunnerConfig, sandbox: SandboxConfig) -> None:
    """A COMET model that is set but cannot load stops the runner here, with the reason. A
    sandbox that cannot run here does not: jobs without code_exec go on, and those with it
    fail at their start saying it is missing."""
    try:
        install_code_runner(SandboxRunner(sandbox))
    except SandboxError as error:
        log.error("code_exec unavailable", extra={"error": str(error)})
    if config.comet_model_dir is not None:
        install_comet_scorer(comet_scorer(config, config.comet_model_dir))
