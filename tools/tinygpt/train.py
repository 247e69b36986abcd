"""Pretrain the tiny GPT and save HuggingFace Trainer-style checkpoints at chosen steps.

The training mix may change over training, as real pretraining mixes do (an annealing phase
adds data late): each `Phase` of documents is in the mix between its start and stop steps, and
each step's windows are drawn from the phases in the mix, in proportion to their tokens. The
tokenizer is trained once, on every phase's documents, before the first step.

Each checkpoint is `checkpoint-N/` holding `model.safetensors`, `config.json`, the tokenizer
files and, written last as HF Trainer does, `trainer_state.json` with the global step and the
number of tokens seen, so the watcher can tell when a checkpoint is complete.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from tinygpt.model import EOS, build_model, build_tokenizer


@dataclass(frozen=True)
class TrainConfig:
    out_dir: Path
    checkpoint_steps: tuple[int, ...]
    batch_size: int = 16
    seq_len: int = 128
    learning_rate: float = 3e-3
    seed: int = 0
    layers: int = 2
    width: int = 64
    split_words: bool = True  # the tokenizer's (tinygpt.model.build_tokenizer)


@dataclass(frozen=True)
class Phase:
    """Documents in the training mix from `start` (a step) until `stop` (None: to the end)."""

    documents: tuple[str, ...]
    start: int = 0
    stop: int | None = None

    def active(self, step: int) -> bool:
        return self.start <= step and (self.stop is None or step < self.stop)


def log_spaced_steps(last: int) -> tuple[int, ...]:
    """The seed study's schedule: 0, 1..9, 10..90, 100..900, 1000, 2000, ... up to `last`."""
    steps = {0}
    scale = 1
    while scale <= last:
        steps.update(m * scale for m in range(1, 10) if m * scale <= last)
        scale *= 10
    return tuple(sorted(steps))


def _token_stream(documents: Sequence[str], encode: Callable[[str], list[int]]) -> torch.Tensor:
    ids: list[int] = []
    for document in documents:
        ids.extend(encode(document + EOS))
    return torch.tensor(ids, dtype=torch.long)


def save_checkpoint(
    model: torch.nn.Module, tokenizer: object, out: Path, step: int, tokens: int
) -> Path:
    directory = out / f"checkpoint-{step}"
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)  # type: ignore[operator]
    tokenizer.save_pretrained(directory)  # type: ignore[attr-defined]
    state = {"global_step": step, "num_input_tokens_seen": tokens}
    (directory / "trainer_state.json").write_text(json.dumps(state))
    return directory


def _mixes(
    phases: Sequence[Phase], streams: Sequence[torch.Tensor], last: int
) -> list[torch.Tensor]:
    """The token stream of the mix at each step (one tensor per distinct mix)."""
    mixes: dict[tuple[int, ...], torch.Tensor] = {}
    per_step = []
    for step in range(last):
        key = tuple(i for i, phase in enumerate(phases) if phase.active(step))
        if not key:
            raise ValueError(f"no phase of the training mix is active at step {step}")
        if key not in mixes:
            mixes[key] = torch.cat([streams[i] for i in key])
        per_step.append(mixes[key])
    return per_step


def _schedule(documents: Sequence[str] | Sequence[Phase]) -> list[Phase]:
    phases = [d for d in documents if isinstance(d, Phase)]
    plain = tuple(d for d in documents if isinstance(d, str))
    if phases and plain:
        raise TypeError("train: give documents or phases of documents, not both")
    return phases or [Phase(plain)]


def train(
    documents: Sequence[str] | Sequence[Phase],
    config: TrainConfig,
    on_checkpoint: Callable[[int, Path], None] | None = None,
) -> list[Path]:
    """Train for max(checkpoint_steps) steps on random windows of the corpus (plain documents:
    one phase for the whole run)."""
    random.seed(config.seed)
    schedule = _schedule(documents)
    documents_seen = [d for phase in schedule for d in phase.documents]
    tokenizer = build_tokenizer(documents_seen, split_words=config.split_words)
    model = build_model(len(tokenizer), config.seed, config.layers, config.width)
    streams = [_token_stream(p.documents, lambda text: tokenizer.encode(text)) for p in schedule]
    mixes = _mixes(schedule, streams, max(config.checkpoint_steps))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    wanted, saved = set(config.checkpoint_steps), []
    tokens_per_step = config.batch_size * config.seq_len
    generator = torch.Generator().manual_seed(config.seed)
    for step in range(max(config.checkpoint_steps) + 1):
        if step in wanted:
            model.eval()  # type: ignore[no-untyped-call]
            saved.append(
                save_checkpoint(model, tokenizer, config.out_dir, step, step * tokens_per_step)
            )
            if on_checkpoint is not None:
                on_checkpoint(step, saved[-1])
            model.train()
        if step == max(config.checkpoint_steps):
            break
        stream = mixes[step]
        starts = torch.randint(
            0, len(stream) - config.seq_len - 1, (config.batch_size,), generator=generator
        )
        batch = torch.stack([stream[s : s + config.seq_len] for s in starts.tolist()])
        loss = model(input_ids=batch, attention_mask=torch.ones_like(batch), labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return saved
