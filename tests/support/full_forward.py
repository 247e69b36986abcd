"""HFScorer's log-likelihood before shared contexts: one padded forward of context +
continuation per pair, every pair paying for its whole context.

Kept as the reference the shared-context path must equal and as the baseline `make bench`
measures it against; the body is HFScorer.loglikelihood as of d68c14b.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from kiseki.serving.hf_scoring import HFScorer
from kiseki.serving.results import Continuation


@torch.inference_mode()
def full_forward_loglikelihood(
    scorer: HFScorer, pairs: Sequence[tuple[str, str]]
) -> list[Continuation]:
    if not pairs:
        return []
    encoded = [scorer._encode_pair(context, continuation) for context, continuation in pairs]
    sequences = [ctx + cont for ctx, cont in encoded]
    width = max(len(s) for s in sequences)
    pad = int(scorer.tokenizer.pad_token_id or 0)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence)
        mask[row, : len(sequence)] = 1
    logits = scorer.model(
        input_ids=ids.to(scorer.device), attention_mask=mask.to(scorer.device)
    ).logits
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    results = []
    for row, (ctx, cont) in enumerate(encoded):
        positions = torch.arange(len(ctx) - 1, len(ctx) + len(cont) - 1, device=scorer.device)
        targets = torch.tensor(cont, device=scorer.device)
        step_logprobs = logprobs[row, positions]
        total = float(step_logprobs.gather(1, targets[:, None]).sum())
        greedy = bool((step_logprobs.argmax(dim=-1) == targets).all())
        results.append(Continuation(total, greedy))
    return results
