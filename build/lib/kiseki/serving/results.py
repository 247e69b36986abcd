"""What a scoring backend returns, shared by the Triton model, the client and references."""

from __future__ import annotations

from dataclasses import dataclass

# llm-jp-eval reads the answer up to the first blank line; generating past it is wasted work.
STOP_TEXT = "\n\n"


@dataclass(frozen=True)
class Continuation:
    """Summed log-prob of a continuation given its context, and whether greedy decoding
    would have produced exactly it."""

    logprob: float
    is_greedy: bool
