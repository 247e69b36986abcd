"""The one output of every reader: a HuggingFace checkpoint (safetensors, config.json and the
run's tokenizer), checked against the HF model class before it is written."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PretrainedConfig
from transformers.tokenization_utils_base import PreTrainedTokenizerBase


class ConversionError(RuntimeError):
    """The checkpoint cannot be converted; the message names the file or field at fault."""


def load_tokenizer(directory: Path) -> PreTrainedTokenizerBase:
    try:
        tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError) as error:
        raise ConversionError(f"tokenizer directory {directory} cannot be read: {error}") from None
    return tokenizer


def write_hf(
    destination: Path,
    config: PretrainedConfig,
    weights: dict[str, torch.Tensor],
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    """Strict loading into the model class catches a missing, extra or misshapen tensor here,
    not at serving time; on the meta device it costs no second copy of the weights."""
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):
        setattr(config, name, getattr(tokenizer, name, None))
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    try:
        model.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as error:
        raise ConversionError(f"weights do not fit {type(model).__name__}: {error}") from None
    model.tie_weights()
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
