"""code_exec (llm-jp-eval's CG category, mbpp): 1.0 when the generated code and the dataset's
tests run without error, else 0.0.

llm-jp-eval v1.4.1's source could not be fetched here; as read from it before: the gold is
`str(test_list)`, a Python literal list of `assert ...` lines, parsed with
`ast.literal_eval`; for each test it calls `exec(prediction)` then `exec(test)` in its own
process and the sample scores 1 only when none raises. Here the prediction and every test
run as one program, in a separate process: the pure core only builds the programs and asks a
runner installed at run time (kiseki.sandbox's), so generated code never runs in a service.
A gold that is not such a literal is taken as test code as it stands.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Protocol

from kiseki.evaluation.metrics.comet import MetricUnavailable


class CodeRunner(Protocol):
    def run(self, programs: Sequence[str]) -> list[bool]:
        """Whether each program ran to its end without an error, in order."""


_installed: list[CodeRunner] = []


def install_code_runner(runner: CodeRunner | None) -> None:
    """Run code_exec's programs with `runner` from now on (None removes it)."""
    _installed.clear()
    if runner is not None:
        _installed.append(runner)


def require_code_runner() -> CodeRunner:
    """The installed runner; MetricUnavailable, saying what to install, when there is none."""
    if not _installed:
        raise MetricUnavailable(
            "code_exec runs generated code, which needs a sandbox: "
            "install_code_runner(kiseki.sandbox.runner.SandboxRunner(...)) "
            "(the task-runner installs it at start)"
        )
    return _installed[0]


def checks_of(gold: str) -> list[str]:
    """The tests of a gold: the items of a literal list of strings, else the text itself."""
    try:
        parsed = ast.literal_eval(gold)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return [gold]
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return [gold]


def program(prediction: str, gold: str) -> str:
    return "\n".join([prediction, *checks_of(gold)]) + "\n"


def code_exec(predictions: Sequence[str], golds: Sequence[str]) -> list[float]:
    programs = [program(p, g) for p, g in zip(predictions, golds, strict=True)]
    passed = require_code_runner().run(programs)
    if len(passed) != len(programs):
        raise MetricUnavailable(f"code_exec: {len(passed)} results for {len(programs)} programs")
    return [1.0 if ok else 0.0 for ok in passed]
