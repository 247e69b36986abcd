"""What every scoring backend returns and the two rules they share, in one place.

This module imports nothing of kiseki's: the TensorRT-LLM front model runs in the
TensorRT-LLM image, where kiseki is not installed, and gets a copy of it (`kiseki_results`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# llm-jp-eval reads the answer up to the first blank line; generating past it is wasted work.
STOP_TEXT = "\n\n"


@dataclass(frozen=True)
class Continuation:
    """Summed log-prob of a continuation given its context, and whether greedy decoding
    would have produced exactly it."""

    logprob: float
    is_greedy: bool


def first_answer(generated: str) -> str:
    """The generated text (never the prompt) up to its first blank line, as llm-jp-eval cuts it."""
    return generated.split(STOP_TEXT, 1)[0]


def encode_pair(
    encode: Callable[[str], list[int]],
    eos_token_id: int | None,
    context: str,
    continuation: str,
    max_positions: int | None,
) -> tuple[list[int], list[int]]:
    """Context and continuation tokenised apart (`encode` adds no special tokens), so the
    continuation is never empty or swallowed by a merge across the boundary; an empty context
    starts from EOS; a context too long for `max_positions` loses its oldest tokens."""
    context_ids, continuation_ids = encode(context), encode(continuation)
    if not continuation_ids:
        raise ValueError(f"empty continuation for context {context[-40:]!r}")
    context_ids = context_ids or [int(eos_token_id or 0)]
    if max_positions is not None:
        room = max_positions - len(continuation_ids)
        if room < 1:
            raise ValueError(
                f"continuation of {len(continuation_ids)} tokens does not fit the model's"
                f" {max_positions} positions"
            )
        context_ids = context_ids[-room:]
    return context_ids, continuation_ids
