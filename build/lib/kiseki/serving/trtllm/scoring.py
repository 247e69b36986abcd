"""Log-likelihood of a continuation from the context logits TensorRT-LLM returns.

With `return_context_logits`, the engine gives one row of vocabulary logits per prompt
token; row i predicts token i + 1. The continuation is the prompt's last tokens, from
`start` on. This module needs only numpy: it is copied next to the scorer's model.py and
imported there, inside the Triton image, where kiseki is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def continuation_logprob(
    context_logits: npt.NDArray[np.floating[Any]],
    input_ids: npt.NDArray[np.integer[Any]],
    start: int,
) -> tuple[float, bool]:
    """Summed log-prob of input_ids[start:], and whether every one of them is the argmax."""
    if not 0 < start < len(input_ids):
        raise ValueError(f"continuation start {start} outside 1..{len(input_ids) - 1}")
    if len(context_logits) < len(input_ids) - 1:
        raise ValueError(
            f"{len(context_logits)} rows of context logits for {len(input_ids)} input ids;"
            " was the engine built with --gather_context_logits?"
        )
    rows = context_logits[start - 1 : len(input_ids) - 1].astype(np.float64)
    shifted = rows - rows.max(axis=1, keepdims=True)
    logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    targets = input_ids[start:]
    picked = logprobs[np.arange(len(targets)), targets]
    return float(picked.sum()), bool((rows.argmax(axis=1) == targets).all())
