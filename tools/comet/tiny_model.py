"""A tiny COMET model with random weights, laid out as `comet.download_model` leaves a hub
snapshot (hparams.yaml, checkpoints/model.ckpt), for the tests: the same class as
Unbabel/wmt22-comet-da (a RegressionMetric over an XLM-R encoder), its `pretrained_model` a
local XLM-R directory with a sentencepiece tokenizer trained here, so nothing is downloaded.

Run in COMET's environment (.venv-comet): `python tiny_model.py OUT FINAL`; OUT is written,
FINAL is where OUT will be renamed to, which the checkpoint records as its encoder's path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytorch_lightning
import sentencepiece
import torch
import yaml
from comet.models import RegressionMetric
from transformers import XLMRobertaConfig, XLMRobertaTokenizerFast

SENTENCES = [
    "The cat sat.",
    "A dog runs.",
    "It rains.",
    "The weather is fine today.",
    "猫が座った。",
    "犬が走る。",
    "雨が降る。",
    "今日は良い天気です。",
    "彼は本を読んでいる。",
    "She reads a book in the garden.",
]


def write_encoder(directory: Path) -> None:
    """A 2-layer, 32-wide XLM-R config and a 200-piece sentencepiece tokenizer."""
    directory.mkdir(parents=True)
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 4) + "\n", encoding="utf-8")
    prefix = directory / "sentencepiece.bpe"
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=120,
        character_coverage=1.0,
        model_type="unigram",
        hard_vocab_limit=False,
    )
    tokenizer = XLMRobertaTokenizerFast(vocab_file=f"{prefix}.model")
    tokenizer.save_pretrained(directory)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    config.save_pretrained(directory)


def main(out: Path, final: Path) -> None:
    write_encoder(out / "encoder")
    torch.manual_seed(0)
    model = RegressionMetric(
        pretrained_model=str(out / "encoder"),
        load_pretrained_weights=False,
        local_files_only=True,
        hidden_sizes=[64, 32],
        layer="mix",
        pool="avg",
    )
    # Where the encoder will be once OUT is renamed: the checkpoint's hyper-parameters say it.
    hparams = {**model.hparams, "pretrained_model": str(final / "encoder")}
    (out / "checkpoints").mkdir()
    torch.save(
        {
            "state_dict": model.state_dict(),
            "hyper_parameters": hparams,
            "pytorch-lightning_version": pytorch_lightning.__version__,
        },
        out / "checkpoints" / "model.ckpt",
    )
    (out / "hparams.yaml").write_text(yaml.safe_dump(hparams), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
