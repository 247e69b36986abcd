"""COMET in a child process of its own environment (.venv-comet) with a tiny COMET model of
wmt22-comet-da's class: the scores are the package's own `predict`, a dead child is a
MetricUnavailable with its stderr and the next call starts a new one, and the runner's
plug-in installs it."""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.comet.process import CometProcess
from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.metrics.comet import (
    comet_wmt22,
    install_comet_scorer,
    require_comet_scorer,
)
from kiseki.runner.config import RunnerConfig
from kiseki.runner.plugins import install_plugins
from support.comet import comet_predict, comet_python
from support.sandbox import sandbox_config

SOURCES = ["The cat sat.", "A dog runs.", "It rains.", "She reads a book in the garden."]
OUTPUTS = ["猫が座った。", "犬は走る。", "晴れ。", ""]
GOLDS = ["猫が座った。", "犬が走る。", "雨が降る。", "彼女は庭で本を読む。"]


@pytest.fixture
def model(tiny_comet: Path) -> Path:
    return tiny_comet


@pytest.fixture
def process(model: Path) -> Iterator[CometProcess]:
    child = CometProcess(comet_python(), model / "checkpoints" / "model.ckpt", 2, 120.0)
    child.start()
    yield child
    child.close()


def test_the_child_scores_as_the_package_predicts(model: Path, process: CometProcess) -> None:
    scores = process(SOURCES, OUTPUTS, GOLDS)
    assert len(scores) == len(OUTPUTS)
    assert all(math.isfinite(s) for s in scores)
    expected = comet_predict(model, SOURCES, OUTPUTS, GOLDS)
    assert scores == pytest.approx(expected, abs=1e-6)
    assert process(SOURCES[::-1], OUTPUTS, GOLDS) != scores  # the sources reach the model
    assert process([], [], []) == []


def test_a_killed_child_fails_the_call_with_its_stderr_then_restarts(
    process: CometProcess,
) -> None:
    first = process(SOURCES, OUTPUTS, GOLDS)
    pid = process.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(MetricUnavailable, match=r"COMET process .* exited with -9; its stderr"):
        process(SOURCES, OUTPUTS, GOLDS)
    assert process(SOURCES, OUTPUTS, GOLDS) == pytest.approx(first, abs=1e-6)
    assert process.pid not in (None, pid)


def test_a_model_that_cannot_load_is_reported_with_the_childs_error(tmp_path: Path) -> None:
    bad = tmp_path / "checkpoints" / "model.ckpt"
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    (tmp_path / "hparams.yaml").write_text("class_identifier: regression_metric\n")
    child = CometProcess(comet_python(), bad, 2, 120.0)
    failure = r"(?s)exited with 1; its stderr ends: .*UnpicklingError"
    with pytest.raises(MetricUnavailable, match=failure):
        child.start()
    assert child.pid is None


def test_the_runner_installs_the_child_when_its_python_is_set(model: Path) -> None:
    config = RunnerConfig(datasets_dir=model, comet_model_dir=model, comet_python=comet_python())
    try:
        install_plugins(config, sandbox_config())
        assert comet_wmt22(SOURCES, OUTPUTS, GOLDS) == pytest.approx(
            comet_predict(model, SOURCES, OUTPUTS, GOLDS), abs=1e-6
        )
    finally:
        installed = require_comet_scorer()
        install_comet_scorer(None)
        if isinstance(installed, CometProcess):
            installed.close()


def test_metrics_score_runs_comet_in_the_child(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = tmp_path / "pairs.json"
    rows = [list(row) for row in zip(OUTPUTS, GOLDS, SOURCES, strict=True)]
    pairs.write_text(json.dumps({"metric": "comet_wmt22", "pairs": rows}), encoding="utf-8")
    checkpoint = model / "checkpoints" / "model.ckpt"
    command = ["metrics", "score", str(pairs), "--comet-model", str(checkpoint)]
    assert main([*command, "--comet-python", str(comet_python())]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = comet_predict(model, SOURCES, OUTPUTS, GOLDS)
    assert printed == {"metric": "comet_wmt22", "score": pytest.approx(sum(expected) / 4), "n": 4}
