"""An endpoint that answers from a function of the prompt: the runner's scoring path without
a model server (ScoringClient's own client is made but never connects)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kiseki.serving.client import PartDone, ScoringClient


class RecordedEndpoint(ScoringClient):
    def __init__(self, answer: Callable[[str], str]) -> None:
        super().__init__("127.0.0.1:1", "recorded")
        self.answer = answer
        self.prompts: list[str] = []

    async def generate(
        self, prompts: Sequence[str], max_new_tokens: int, on_part: PartDone[str] | None = None
    ) -> list[str]:
        self.prompts.extend(prompts)
        outputs = [self.answer(p) for p in prompts]
        if on_part is not None:
            await on_part(0, outputs)
        return outputs
