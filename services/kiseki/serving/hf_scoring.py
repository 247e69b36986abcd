"""Batched greedy generation and continuation log-likelihood on a HuggingFace checkpoint.

The Triton Python-backend model runs this; so do the in-process reference and benchmarks,
so the two paths share no hidden difference but the transport.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    Cache,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)

from kiseki.serving.results import STOP_TEXT, Continuation, encode_pair, first_answer
from kiseki.serving.swap import check_swappable

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Tokens of generated text each step decodes, so the check stays flat as the output grows
# (1.2 ms a step for 256 rows here; a one-token forward of 256 rows of a 4x256 GPT-2: 46 ms).
# A blank line that was not there a step ago ends in the newest token, and its first newline is
# in that token or one just before it (a newline byte never joins a character of its own).
# Missing one would only generate on: the text is cut at its first blank line all the same.
STOP_WINDOW = 4


class CheckpointLoadError(RuntimeError):
    """The checkpoint cannot be served; the message says which file or field is wrong."""


def _device(preferred: str) -> torch.device:
    if preferred == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preferred)


class BlankLineInOutput(StoppingCriteria):
    """Finishes each row once its generated text holds STOP_TEXT, rows independently.

    HF's `stop_strings` read the prompt too: kiseki's prompts end in "### 応答:\\n", so a first
    generated "\\n" stopped the answer there, where llm-jp-eval cuts only the generated text."""

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
        self.device, self.dtype = _device(device), dtype
        try:
            self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(checkpoint)
        except Exception as error:  # transformers raises many types for one bad file
            raise CheckpointLoadError(f"cannot load checkpoint {checkpoint}: {error}") from error
        self._load_weights(Path(checkpoint))
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Prompts longer than the model's context lose their oldest tokens (the start of the
        # few-shot block), as lm-evaluation-harness does, instead of failing the whole job.
        self.tokenizer.truncation_side = "left"

    def _load_weights(self, checkpoint: Path) -> None:
        try:
            model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=DTYPES[self.dtype])
        except Exception as error:  # transformers raises many types for one bad file
            raise CheckpointLoadError(f"cannot load checkpoint {checkpoint}: {error}") from error
        self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        self.max_positions: int | None = getattr(model.config, "max_position_embeddings", None)
        self.checkpoint = checkpoint

    def swap(self, checkpoint: Path) -> None:
        """Serve `checkpoint`'s weights from now on, in this process (see serving/swap.py)."""
        check_swappable(self.checkpoint, Path(checkpoint))
        self._load_weights(Path(checkpoint))

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
        return [first_answer(text) for text in texts]

    def _encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return encode_pair(
            lambda text: self.tokenizer.encode(text, add_special_tokens=False),
            self.tokenizer.eos_token_id,
            context,
            continuation,
            self.max_positions,
        )

    def _padded(self, rows: Sequence[Sequence[int]], left: bool) -> tuple[Tensor, Tensor]:
        """Token ids and attention mask of `rows`, padded to the longest on one side."""
        width = max(len(row) for row in rows)
        ids = torch.full((len(rows), width), int(self.tokenizer.pad_token_id or 0))
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            place = slice(width - len(row), width) if left else slice(0, len(row))
            ids[index, place], mask[index, place] = torch.tensor(row, dtype=torch.long), 1
        return ids.to(self.device), mask.to(self.device)

    def _run_contexts(self, contexts: Sequence[Sequence[int]]) -> tuple[Tensor, Cache, Tensor]:
        """Log-probs after each context's last token, the KV cache, the attention mask. Left
        padding puts every context's end at the same column, where its continuation starts;
        only that column's logits are made (a whole prompt's would be tokens x vocabulary)."""
        ids, mask = self._padded(contexts, left=True)
        positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
        output = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        return torch.log_softmax(output.logits[:, -1].float(), dim=-1), output.past_key_values, mask

    def _run_continuations(
        self, continuations: Sequence[list[int]], rows: Tensor, cache: Cache, context_mask: Tensor
    ) -> Tensor:
        """Log-probs after each continuation token but the last, every pair reading its
        context's row of the cache (pair i: `rows[i]`); empty when no continuation has two."""
        fed = [continuation[:-1] for continuation in continuations]
        if not any(fed):
            return torch.empty(0, device=self.device)
        ids, mask = self._padded(fed, left=False)
        cache.batch_select_indices(rows)
        starts = context_mask.sum(dim=1)[rows, None]
        # Padding after a short continuation gets position 0: counting on could pass the
        # model's last position, and nothing reads those columns.
        positions = (starts + torch.arange(ids.shape[1], device=self.device)) * mask
        output = self.model(
            input_ids=ids,
            attention_mask=torch.cat([context_mask[rows], mask], dim=1),
            position_ids=positions,
            past_key_values=cache,
        )
        return torch.log_softmax(output.logits.float(), dim=-1)

    @torch.inference_mode()
    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[Continuation]:
        """Summed log-prob of each continuation given its context, and whether greedy picks it.

        Pairs with the same (truncated) context run it once, their continuations on its KV
        cache: a multiple-choice sample's choices share their whole few-shot prompt."""
        if not pairs:
            return []
        encoded = [self._encode_pair(context, continuation) for context, continuation in pairs]
        row_of: dict[tuple[int, ...], int] = {}
        for context, _ in encoded:
            row_of.setdefault(tuple(context), len(row_of))
        rows = torch.tensor([row_of[tuple(context)] for context, _ in encoded], device=self.device)
        first, cache, context_mask = self._run_contexts(list(row_of))
        rest = self._run_continuations([cont for _, cont in encoded], rows, cache, context_mask)
        results = []
        for pair, (_, continuation) in enumerate(encoded):
            steps = first[rows[pair], None]
            if len(continuation) > 1:
                steps = torch.cat([steps, rest[pair, : len(continuation) - 1]])
            targets = torch.tensor(continuation, device=self.device)
            total = float(steps.gather(1, targets[:, None]).sum())
            greedy = bool((steps.argmax(dim=-1) == targets).all())
            results.append(Continuation(total, greedy))
        return results
