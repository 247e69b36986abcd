"""`python -m kiseki.conversion SRC DST --format megatron --tokenizer DIR`: one conversion, as
its own process. Exit status 2 and one `conversion failed: REASON` line on stderr when the
checkpoint cannot be converted (the orchestrator's FAILED reason)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kiseki.conversion.formats import FAILURE_MARK, FORMAT_NAMES
from kiseki.conversion.hf_writer import ConversionError
from kiseki.conversion.registry import convert

FAILED_EXIT = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiseki.conversion", description=__doc__)
    parser.add_argument("source", type=Path, help="the checkpoint directory (iter_N, global_stepN)")
    parser.add_argument("destination", type=Path, help="the HuggingFace checkpoint to write")
    parser.add_argument("--format", required=True, choices=sorted(FORMAT_NAMES))
    parser.add_argument("--tokenizer", type=Path, help="the run's tokenizer directory")
    args = parser.parse_args(argv)
    try:
        convert(args.source, args.destination, FORMAT_NAMES[args.format], args.tokenizer)
    except ConversionError as error:
        print(f"{FAILURE_MARK}{error}", file=sys.stderr)
        return FAILED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
