"""A whole job of an mbpp-like dataset (tests/fixtures/mbpp_tiny/{train,test}) scored
through the pipeline with the real sandbox installed, as the task-runner installs it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiseki.evaluation.metrics import MetricUnavailable
from kiseki.evaluation.metrics.code_exec import install_code_runner
from kiseki.evaluation.pipeline import load_task, score_recorded
from kiseki.evaluation.settings import EvalSettings
from kiseki.sandbox.runner import SandboxRunner
from support.sandbox import sandbox_config

DATASETS = Path(__file__).resolve().parent.parent / "fixtures" / "mbpp_tiny"
OUTPUTS = [
    "def add(a, b):\n    return a + b",  # passes both tests
    "def biggest(xs):\n    return xs[0]",  # passes one test of two: 0
    "def flip(s):\n    while True:\n        pass",  # stopped by the CPU limit
    "def fact(n):\n    return 1 if n == 0 else n * fact(n - 1)\n\nthe blank line ends it",
]


@pytest.fixture
def sandbox() -> Iterator[SandboxRunner]:
    runner = SandboxRunner(sandbox_config())
    install_code_runner(runner)
    yield runner
    install_code_runner(None)


def test_a_job_without_a_sandbox_fails_at_start_saying_why() -> None:
    with pytest.raises(MetricUnavailable, match="code_exec runs generated code"):
        load_task(DATASETS, "mbpp_tiny", EvalSettings(num_few_shots=1))


def test_a_whole_job_is_scored_by_running_the_code(sandbox: SandboxRunner) -> None:
    task = load_task(DATASETS, "mbpp_tiny", EvalSettings(num_few_shots=1))
    scored, scores = score_recorded(task, OUTPUTS)
    assert [s.metrics for s in scored] == [{"code_exec": v} for v in (1.0, 0.0, 0.0, 1.0)]
    assert scores["code_exec"] == 0.5
    assert "assert add(2, 3) == 5" in task.prompt(task.samples[0])
