"""The `kiseki` command line: each sub-command lives in its own module with a `register` hook."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

# Each command: the module whose `register(subparsers)` adds its sub-parser and sets `func`
# (a callable taking the parsed namespace and returning an exit code), and its one-line help.
# Only the chosen command's module is imported: importing them all (the local stack, the
# metrics' nltk and scipy, matplotlib) made `kiseki --help` take 3.2 s.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("kiseki.cli.up_cmd", "run every service locally; Ctrl-C stops them"),
    "metrics": ("kiseki.cli.metrics_cmd", "score predictions with one metric"),
    "eval-offline": ("kiseki.cli.eval_offline_cmd", "score a predictions file"),
    "trtllm-repo": (
        "kiseki.cli.trtllm_cmd",
        "write the Triton model repository for a TensorRT-LLM engine",
    ),
    "trtllm-build-job": ("kiseki.cli.trtllm_cmd", "print the engine-build Kubernetes Job"),
    "runs": ("kiseki.cli.runs_cmd", "the runs in the store"),
    "checkpoints": ("kiseki.cli.runs_cmd", "a run's checkpoints and states"),
    "scores": ("kiseki.cli.scores_cmd", "a run's dataset or category scores"),
    "trajectory": ("kiseki.cli.trajectory_cmd", "category scores vs training tokens"),
    "shapes": ("kiseki.cli.trajectory_cmd", "the trajectory shape of each category"),
    "sql": ("kiseki.cli.sql_cmd", "run one read-only SQL statement"),
    "baselines": ("kiseki.cli.baselines_cmd", "store a run's majority baselines"),
    "dlq": ("kiseki.cli.dlq_cmd", "list or replay the dead-letter topic"),
    "evaluate": ("kiseki.cli.evaluate_cmd", "evaluate checkpoints of a run (again)"),
    "policy": ("kiseki.cli.policy_cmd", "check a policy and print what it resolves to"),
    "following": (
        "kiseki.cli.following_cmd",
        "the instruction-following rate and the score against training tokens",
    ),
    "compare": ("kiseki.cli.compare_cmd", "runs at equal training tokens; emergence order"),
    "predict": ("kiseki.cli.compare_cmd", "a category's score predicted at a token count"),
    "regressions": (
        "kiseki.cli.regressions_cmd",
        "significant drops between checkpoints, with the samples that fell",
    ),
    "noise": ("kiseki.cli.regressions_cmd", "bootstrap intervals and signal-to-noise per dataset"),
    "llm-jp-eval": (
        "kiseki.cli.llm_jp_eval_cmd",
        "generate llm-jp-eval prompt dumps; export generations for its evaluate",
    ),
    "convert": (
        "kiseki.cli.convert_cmd",
        "convert a Megatron-LM, DeepSpeed or NeMo 2 checkpoint to HF",
    ),
}


class CommandError(Exception):
    """A user-facing error: printed on stderr without a traceback, exit code 2."""


def command_parser(subparsers: Subparsers, name: str, **options: object) -> argparse.ArgumentParser:
    """The sub-parser of one command, with its help from COMMANDS."""
    return subparsers.add_parser(name, help=COMMANDS[name][1], **options)  # type: ignore[arg-type]


def _chosen(argv: Sequence[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Every command's full parser when `argv` is None; else only the chosen command's (the
    others are listed with their help, for `--help` and for naming an unknown command)."""
    parser = argparse.ArgumentParser(prog="kiseki", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    chosen = _chosen(argv) if argv is not None else None
    modules = {module for module, _ in COMMANDS.values()} if argv is None else set()
    if chosen in COMMANDS:
        modules.add(COMMANDS[chosen][0])
    for module in sorted(modules):
        importlib.import_module(module).register(subparsers)
    for name, (_, help_text) in COMMANDS.items():
        if name not in subparsers.choices:
            subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(arguments)
    except ModuleNotFoundError as error:  # an install without the extra this command needs
        print(
            f"kiseki {_chosen(arguments)}: this install lacks {error.name!r}; the services and"
            " serving floors come with `pip install 'kiseki[services,serving]'`",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(arguments)
    try:
        return int(args.func(args))
    except CommandError as error:
        print(f"kiseki {args.command}: {error}", file=sys.stderr)
        return 2
