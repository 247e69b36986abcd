"""`kiseki convert SRC DST --format F --tokenizer DIR`: one conversion by hand, the same one the
orchestrator runs before serving a Megatron-LM / DeepSpeed / NeMo 2 checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiseki.cli import CommandError, command_parser
from kiseki.conversion.formats import FORMAT_NAMES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = command_parser(subparsers, "convert")
    parser.add_argument("source", type=Path, help="the checkpoint directory (iter_N, global_stepN)")
    parser.add_argument("destination", type=Path, help="the HuggingFace checkpoint to write")
    parser.add_argument("--format", required=True, choices=sorted(FORMAT_NAMES))
    parser.add_argument("--tokenizer", type=Path, help="the run's tokenizer directory")
    parser.add_argument(
        "--keep-existing",
        action="store_true",
        help="a destination that exists is a finished conversion (it is renamed there only"
        " when whole): keep it and succeed, as a retried Kubernetes Job must",
    )
    parser.set_defaults(func=convert)


def convert(args: argparse.Namespace) -> int:
    from kiseki.conversion.formats import FAILURE_MARK
    from kiseki.conversion.hf_writer import ConversionError
    from kiseki.conversion.registry import convert as run

    if args.destination.exists():
        if args.keep_existing:
            print(args.destination)
            return 0
        raise CommandError(f"{args.destination} exists already")
    try:
        run(args.source, args.destination, FORMAT_NAMES[args.format], args.tokenizer)
    except ConversionError as error:
        raise CommandError(f"{FAILURE_MARK}{error}") from None
    print(args.destination)
    return 0
