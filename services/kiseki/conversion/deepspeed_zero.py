"""DeepSpeed's `global_stepN/` (ZeRO 1-3, beside the root's `latest`), rebuilt in fp32 by
DeepSpeed's own `get_fp32_state_dict_from_zero_checkpoint`.

Supported: ZeRO over a HuggingFace causal-LM module (the usual case, also under HF Trainer):
its state dict already has HF names, and its config.json sits in the checkpoint directory,
the run root above it, or the tokenizer directory. DeepSpeed's pipeline-module layout
(`layer_XX-model_states.pt`) and Megatron-DeepSpeed are not supported.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from transformers import AutoConfig, PretrainedConfig

from kiseki.conversion.hf_writer import ConversionError, load_tokenizer, write_hf


def _config(source: Path, tokenizer_dir: Path) -> PretrainedConfig:
    for directory in (source, source.parent, tokenizer_dir):
        if (directory / "config.json").is_file():
            config: PretrainedConfig = AutoConfig.from_pretrained(str(directory))
            return config
    raise ConversionError(
        f"DeepSpeed checkpoints carry no architecture: no config.json in {source}, its run root"
        f" or the tokenizer directory {tokenizer_dir}"
    )


def _check_whole(source: Path) -> None:
    """torch.save writes a zip whose directory is at its end: a file cut short has none.
    DeepSpeed's own reader would raise torch's RuntimeError without naming the file."""
    for path in sorted(source.glob("*.pt")):
        if not zipfile.is_zipfile(path):
            raise ConversionError(f"{path} is cut short or not a torch.save file")


def convert(source: Path, destination: Path, tokenizer_dir: Path | None) -> None:
    if tokenizer_dir is None:
        raise ConversionError("DeepSpeed checkpoints carry no tokenizer: the run must name one")
    tokenizer = load_tokenizer(tokenizer_dir)
    config = _config(source, tokenizer_dir)
    if any(source.glob("layer_*-model_states.pt")):
        raise ConversionError(f"{source}: DeepSpeed pipeline-module checkpoints are not supported")
    try:
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    except ImportError as error:
        raise ConversionError(
            f"DeepSpeed checkpoints need the deepspeed package where conversion runs ({error})"
        ) from None
    _check_whole(source)
    try:
        weights = get_fp32_state_dict_from_zero_checkpoint(str(source.parent), tag=source.name)
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise ConversionError(
            f"{source}: DeepSpeed could not rebuild the weights: {error}"
        ) from None
    weights = {name.removeprefix("module."): tensor for name, tensor in weights.items()}
    write_hf(destination, config, weights, tokenizer)
