"""NeMo 2 (`...-step=N.../weights/` torch_dist + `context/`): refused with a reason for now."""

from __future__ import annotations

from pathlib import Path

from kiseki.conversion.hf_writer import ConversionError


def convert(source: Path, destination: Path, tokenizer_dir: Path | None) -> None:
    raise ConversionError(
        f"{source}: NeMo 2 checkpoints are not supported yet (convert them with NeMo's own"
        " exporter, or save a Megatron-LM checkpoint)"
    )
