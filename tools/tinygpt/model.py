"""Tokenizer and model of the tiny GPT: a byte-level BPE trained on the corpus, GPT-2 blocks."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

EOS = "<|endoftext|>"


def build_tokenizer(
    corpus: Iterable[str], vocab_size: int = 512, split_words: bool = True
) -> PreTrainedTokenizerFast:
    """Byte-level BPE: any text (Japanese included) encodes without unknown tokens.

    `split_words=False` lets pieces cross word and punctuation boundaries (not line ends), as
    tokenizers that do not pre-split text (SentencePiece on Japanese, which has no spaces) do:
    a frequent line such as the prompt's "### 応答:\n" then becomes one token, which the tiny
    model learns to follow within tens of steps instead of hundreds."""
    tokenizer = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=split_words)
    # Without word splits, a piece may still end with a line's newline, never run into the next.
    line_ends = pre_tokenizers.Split("\n", behavior="merged_with_previous")
    tokenizer.pre_tokenizer = (
        byte_level if split_words else pre_tokenizers.Sequence([line_ends, byte_level])
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,  # its bars print blank lines even when stdout is not a terminal
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS, bos_token=EOS
    )


def build_model(vocab_size: int, seed: int, layers: int = 2, width: int = 64) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=512,
        n_embd=width,
        n_layer=layers,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config)
