"""Batched greedy generation and continuation log-likelihood on a HuggingFace checkpoint.

The Triton Python-backend model runs this; so do the in-process reference and benchmarks,
so the two paths share no hidden difference but the transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)

from kiseki.serving.results import STOP_TEXT, Continuation

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Tokens of generated text each step decodes. A blank line that was not there a step ago ends
# in the newest token, and its first newline is in that token or one just before it (a newline
# byte never joins a character of its own), so a few tokens see it. Missing one would only
# generate on: the text is cut at its first blank line all the same.
STOP_WINDOW = 4


class CheckpointLoadError(RuntimeError):
    """The checkpoint cannot be served; the message says which file or field is wrong."""


def _device(preferred: str) -> torch.device:
    if preferred == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preferred)


class BlankLineInOutput(StoppingCriteria):
    """Finishes each row once its generated text holds STOP_TEXT, rows independently.

    HF's `stop_strings` read the prompt too: kiseki's prompts end in "### 応答:\n", so a first
    generated "\n" stopped the answer there, where llm-jp-eval cuts only the generated text."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt_width: int, rows: int) -> None:
        self.tokenizer, self.prompt_width = tokenizer, prompt_width
        self.done = torch.zeros(rows, dtype=torch.bool)

    def __call__(
        self, input_ids: torch.LongTensor, scores: object = None, **kwargs: object
    ) -> torch.BoolTensor:
        start = max(self.prompt_width, input_ids.shape[1] - STOP_WINDOW)
        rows = (~self.done).nonzero().flatten().tolist()
        tails = self.tokenizer.batch_decode(input_ids[rows, start:], skip_special_tokens=True)
        for row, tail in zip(rows, tails, strict=True):
            self.done[row] = STOP_TEXT in tail
        return self.done.to(input_ids.device)  # type: ignore[return-value]


class HFScorer:
    def __init__(self, checkpoint: Path, dtype: str = "float32", device: str = "auto") -> None:
        if dtype not in DTYPES:
            raise CheckpointLoadError(f"unknown dtype {dtype!r}; expected one of {sorted(DTYPES)}")
        self.device = _device(device)
        try:
            self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(checkpoint)
            model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=DTYPES[dtype])
        except Exception as error:  # transformers raises many types for one bad file
            raise CheckpointLoadError(f"cannot load checkpoint {checkpoint}: {error}") from error
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Prompts longer than the model's context lose their oldest tokens (the start of the
        # few-shot block), as lm-evaluation-harness does, instead of failing the whole job.
        self.tokenizer.truncation_side = "left"
        self.max_positions: int | None = getattr(model.config, "max_position_embeddings", None)

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], max_new_tokens: int) -> list[str]:
        """Greedy continuations, each cut at its first blank line (kept out of the text)."""
        if not prompts:
            return []
        self.tokenizer.padding_side = "left"
        room = None if self.max_positions is None else max(1, self.max_positions - max_new_tokens)
        batch = self.tokenizer(
            list(prompts),
            return_tensors="pt",
            padding=True,
            truncation=room is not None,
            max_length=room,
        ).to(self.device)
        width = batch["input_ids"].shape[1]
        output = self.model.generate(
            **batch,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            stopping_criteria=StoppingCriteriaList(
                [BlankLineInOutput(self.tokenizer, width, len(prompts))]
            ),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        new_tokens = output[:, width:]
        texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [text.split(STOP_TEXT, 1)[0] for text in texts]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Context and continuation tokenised apart, so the continuation is never empty or
        swallowed by a merge across the boundary; an empty context starts from EOS."""
        context_ids = self.tokenizer.encode(context, add_special_tokens=False)
        continuation_ids = self.tokenizer.encode(continuation, add_special_tokens=False)
        if not continuation_ids:
            raise ValueError(f"empty continuation for context {context[-40:]!r}")
        context_ids = context_ids or [int(self.tokenizer.eos_token_id or 0)]
        if self.max_positions is not None:
            room = self.max_positions - len(continuation_ids)
            if room < 1:
                raise ValueError(
                    f"continuation of {len(continuation_ids)} tokens does not fit the model's"
                    f" {self.max_positions} positions"
                )
            context_ids = context_ids[-room:]
        return context_ids, continuation_ids

    @torch.inference_mode()
    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[Continuation]:
        """Summed log-prob of each continuation given its context, and whether greedy picks it."""
        if not pairs:
            return []
        encoded = [self._encode_pair(context, continuation) for context, continuation in pairs]
        sequences = [ctx + cont for ctx, cont in encoded]
        width = max(len(s) for s in sequences)
        pad = int(self.tokenizer.pad_token_id or 0)
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = 1
        logits = self.model(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
        ).logits
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        results = []
        for row, (ctx, cont) in enumerate(encoded):
            positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=self.device)
            targets = torch.tensor(cont, device=self.device)
            step_logprobs = logprobs[row, positions]
            total = float(step_logprobs.gather(1, targets[:, None]).sum())
            greedy = bool((step_logprobs.argmax(dim=-1) == targets).all())
            results.append(Continuation(total, greedy))
        return results
