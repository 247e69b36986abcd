"""One table: the proto's CheckpointFormat → the reader that converts it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from kiseki.conversion import deepspeed_zero, megatron, nemo2
from kiseki.conversion.formats import FORMAT_NAMES
from kiseki.conversion.hf_writer import ConversionError
from kiseki.v1 import events_pb2 as ev

Converter = Callable[[Path, Path, Path | None], None]

CONVERTERS: dict[int, Converter] = {
    FORMAT_NAMES["megatron"]: megatron.convert,
    FORMAT_NAMES["deepspeed"]: deepspeed_zero.convert,
    FORMAT_NAMES["nemo2"]: nemo2.convert,
}


def convert(source: Path, destination: Path, fmt: int, tokenizer_dir: Path | None) -> None:
    """Into a sibling temporary directory, renamed to `destination` only when whole: a
    destination that exists is always a finished conversion."""
    converter = CONVERTERS.get(fmt)
    if converter is None:
        raise ConversionError(f"format {ev.CheckpointFormat.Name(fmt)} has no converter")
    if not source.is_dir():
        raise ConversionError(f"checkpoint directory {source} does not exist")
    partial = destination.with_name(f"{destination.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        converter(source, partial, tokenizer_dir)
        partial.rename(destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
