from __future__ import annotations

from collections.abc import Sequence

import pytest

from kiseki.evaluation.metrics import MetricUnavailable, score_samples
from kiseki.evaluation.metrics.code_exec import checks_of, install_code_runner, program


class Recording:
    """Passes the programs that define `ok`; keeps what it was given."""

    def __init__(self) -> None:
        self.programs: list[str] = []

    def run(self, programs: Sequence[str]) -> list[bool]:
        self.programs.extend(programs)
        return ["def ok" in p for p in programs]


def test_the_gold_is_llm_jp_evals_literal_list_of_asserts_or_test_code() -> None:
    assert checks_of("['assert f(1) == 2', 'assert f(2) == 3']") == [
        "assert f(1) == 2",
        "assert f(2) == 3",
    ]
    assert checks_of("assert f(1) == 2\nassert f(2) == 3") == ["assert f(1) == 2\nassert f(2) == 3"]
    assert checks_of("[1, 2]") == ["[1, 2]"]
    assert program("def f(x):\n    return x + 1", "['assert f(1) == 2']") == (
        "def f(x):\n    return x + 1\nassert f(1) == 2\n"
    )


def test_code_exec_asks_the_installed_runner_and_needs_no_sources() -> None:
    with pytest.raises(MetricUnavailable, match="sandbox"):
        score_samples(["code_exec"], ["def ok(): pass"], ["['ok()']"])
    runner = Recording()
    install_code_runner(runner)
    try:
        per_sample, scores = score_samples(
            ["code_exec"], ["def ok(): pass", "def no(): pass"], ["['ok()']", "['no()']"]
        )
    finally:
        install_code_runner(None)
    assert per_sample == [{"code_exec": 1.0}, {"code_exec": 0.0}]
    assert scores == {"code_exec": 0.5}
    assert runner.programs == ["def ok(): pass\nok()\n", "def no(): pass\nno()\n"]
