"""A real GPT-2 checkpoint whose greedy continuations are written into its weights.

Training a model until it reliably answers a given way takes minutes on a shared CPU; setting
the weights takes milliseconds. The blocks' output projections are zero and the token
embeddings are zero, so the last hidden state is the position embedding alone: position p
is one-hot, and the untied LM head maps it to `script[p]`, the token greedy decoding emits
after position p. A prompt of n tokens thus continues with `script[n - 1:]`: its own text,
whatever tokens the prompt holds, batched and left-padded or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from tinygpt.model import build_tokenizer
from tinygpt.train import save_checkpoint

FILLER = "x"  # one byte: a token in every byte-level vocabulary


def _script(
    tokenizer: PreTrainedTokenizerFast, continuations: Mapping[str, str], positions: int
) -> list[int]:
    [filler] = tokenizer.encode(FILLER)
    script = [filler] * positions
    taken: set[int] = set()
    for prompt, text in continuations.items():
        start = len(tokenizer.encode(prompt)) - 1
        ids = tokenizer.encode(text)
        assert tokenizer.decode(ids) == text, f"{text!r} does not round-trip"
        span = set(range(start, start + len(ids)))
        assert not span & taken, f"{prompt[-20:]!r} continues where another prompt does"
        assert max(span) < positions, f"{prompt[-20:]!r} continues past {positions} positions"
        taken |= span
        script[start : start + len(ids)] = ids
    return script


def _set_weights(model: GPT2LMHeadModel, script: list[int]) -> None:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1.0)
        positions = len(script)
        model.transformer.wpe.weight.copy_(torch.eye(positions))
        # ln_f turns one-hot e_p into (e_p - 1/d) / sigma: d with itself, about -1 with others.
        normalised = torch.nn.functional.layer_norm(torch.eye(positions), (positions,))
        for position, token in enumerate(script):
            model.lm_head.weight[token] += normalised[position]


def scripted_checkpoint(out: Path, continuations: Mapping[str, str], positions: int = 256) -> Path:
    """A HuggingFace checkpoint (model + byte-level BPE tokenizer) under `out` whose greedy
    continuation of each prompt begins with its text; positions no prompt claims emit FILLER."""
    tokenizer = build_tokenizer([*continuations, *continuations.values(), FILLER] * 20)
    script = _script(tokenizer, continuations, positions)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=positions,
        n_embd=positions,
        n_layer=1,
        n_head=4,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = GPT2LMHeadModel(config)
    _set_weights(model, script)
    return save_checkpoint(model, tokenizer, out, 0, 0)
