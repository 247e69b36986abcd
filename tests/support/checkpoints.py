"""Checkpoints written the way each framework writes them: tiny, but real formats.

A `Plan` is one framework's save, paths relative to the run root: `first` in order (what the
framework writes before anything else: NeMo's -unfinished marker, save_pretrained's configs),
then `body` in any order (ranks and threads write those concurrently), then `finish` in order
(the framework's evidence that the save is over: a tracker file, trainer_state.json, removing
the marker). An action with data None deletes its path.

Run as a module, it is a writer process: it saves plans in random pieces with real pauses
and appends `{"directory", "completed_at"}` to a log as each checkpoint becomes complete
(the time its last piece was started, so never later than the moment it became complete):

    python -m support.checkpoints ROOT FORMAT STEP [STEP ...] --seed N --log FILE
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save

Action = tuple[str, bytes | None]


@dataclass(frozen=True)
class Plan:
    directory: str
    body: list[Action]
    finish: list[Action] = field(default_factory=list)
    first: list[Action] = field(default_factory=list)


def safetensors_bytes(values: int = 8) -> bytes:
    return save({"w": np.arange(values, dtype=np.float32)}, metadata={"format": "pt"})


def _blob(rng: random.Random, low: int = 1, high: int = 256) -> bytes:
    return rng.randbytes(rng.randint(low, high))


def _weights(rng: random.Random, shards: int) -> list[Action]:
    if shards == 1:
        return [("model.safetensors", safetensors_bytes(rng.randint(1, 64)))]
    names = [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]
    index = {"metadata": {"total_size": 0}, "weight_map": {f"w{i}": n for i, n in enumerate(names)}}
    files: list[Action] = [(n, safetensors_bytes(rng.randint(1, 64))) for n in names]
    return [*files, ("model.safetensors.index.json", json.dumps(index).encode())]


def _inside(directory: str, actions: Sequence[Action]) -> list[Action]:
    return [(f"{directory}/{name}", data) for name, data in actions]


def hf(step: int, rng: random.Random, shards: int = 1, name: str = "step_{}") -> Plan:
    """save_pretrained: the configs, then the weights (every shard, then the index)."""
    directory = name.format(step)
    configs = [("config.json", b'{"model_type": "gpt2"}'), ("generation_config.json", b"{}")]
    return Plan(
        directory, _inside(directory, _weights(rng, shards)), [], _inside(directory, configs)
    )


def hf_trainer(step: int, rng: random.Random, shards: int = 1) -> Plan:
    """Trainer._save_checkpoint: model, optimizer, scheduler, RNG state; trainer_state.json last."""
    directory = f"checkpoint-{step}"
    model = hf(step, rng, shards, name=directory)
    extras = [(n, _blob(rng)) for n in ("optimizer.pt", "scheduler.pt", "rng_state.pth")]
    state = {"global_step": step, "num_input_tokens_seen": step * 1000, "log_history": []}
    return Plan(
        directory,
        [*model.first, *model.body, *_inside(directory, extras)],
        [(f"{directory}/trainer_state.json", json.dumps(state).encode())],
    )


def _torch_dist(rng: random.Random, ranks: int) -> list[Action]:
    shards: list[Action] = [(f"__{r}_0.distcp", _blob(rng)) for r in range(ranks)]
    metadata = json.dumps({"sharded_backend": "torch_dist", "sharded_backend_version": 1})
    return [
        *shards,
        ("common.pt", _blob(rng)),
        (".metadata", _blob(rng)),
        ("metadata.json", metadata.encode()),
    ]


def megatron(step: int, rng: random.Random, legacy: bool = False) -> Plan:
    """Every rank saves into iter_N/; rank 0 then writes the tracker file."""
    directory = f"iter_{step:07d}"
    files = [("mp_rank_00/model_optim_rng.pt", _blob(rng))] if legacy else _torch_dist(rng, 2)
    return Plan(
        directory,
        _inside(directory, files),
        [("latest_checkpointed_iteration.txt", str(step).encode())],
    )


def nemo2(step: int, rng: random.Random) -> Plan:
    """NeMo 2's ModelCheckpoint: marker, weights (torch_dist) and context, marker removed."""
    directory = f"megatron_gpt--val_loss=2.10-step={step}-consumed_samples={step * 8}.0"
    context = [("context/io.json", b"{}"), ("context/model.yaml", b"x: 1")]
    weights = [(f"weights/{n}", data) for n, data in _torch_dist(rng, 2)]
    marker = f"{directory}-unfinished"
    return Plan(
        directory, _inside(directory, [*weights, *context]), [(marker, None)], [(marker, b"")]
    )


def deepspeed(step: int, rng: random.Random) -> Plan:
    """save_checkpoint: model and ZeRO optimizer states per rank, then the `latest` file."""
    directory = f"global_step{step}"
    names = [
        "mp_rank_00_model_states.pt",
        *(f"zero_pp_rank_{r}_mp_rank_00_optim_states.pt" for r in range(2)),
    ]
    return Plan(
        directory,
        _inside(directory, [(n, _blob(rng)) for n in names]),
        [("latest", directory.encode())],
    )


def marker(step: int, rng: random.Random, marker_name: str = "DONE") -> Plan:
    """Anything else: the files in any order, then the user's marker file."""
    directory = f"step_{step}"
    body = [(n, _blob(rng)) for n in ("weights.bin", "tokenizer.model")]
    return Plan(directory, _inside(directory, body), [(f"{directory}/{marker_name}", b"")])


PLANS: dict[str, Callable[[int, random.Random], Plan]] = {
    "hf": hf,
    "hf-sharded": lambda step, rng: hf(step, rng, shards=rng.randint(2, 4)),
    "hf-trainer": hf_trainer,
    "megatron": megatron,
    "megatron-legacy": lambda step, rng: megatron(step, rng, legacy=True),
    "nemo2": nemo2,
    "deepspeed": deepspeed,
    "marker": marker,
}


def _act(root: Path, name: str, data: bytes | None, mode: str = "wb") -> None:
    path = root / name
    if data is None:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as handle:
        handle.write(data)


def write(root: Path, plan: Plan) -> Path:
    """The whole save at once; the checkpoint directory."""
    for name, data in [*plan.first, *plan.body, *plan.finish]:
        _act(root, name, data)
    return root / plan.directory


def _pieces(rng: random.Random, data: bytes, most: int) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), k=min(most - 1, len(data) - 1)))
    return [data[a:b] for a, b in itertools.pairwise([0, *cuts, len(data)])]


def write_in_pieces(
    root: Path, plan: Plan, rng: random.Random, most: int = 4
) -> Iterator[tuple[str, bool]]:
    """The save in random order and pieces. After each piece it yields the path just written
    and whether the save is now complete, which it is after the last piece and not before."""
    body = list(plan.body)
    rng.shuffle(body)
    pieces: list[tuple[str, bytes | None, str]] = []
    for name, data in [*plan.first, *body, *plan.finish]:
        if data is None or len(data) < 2:
            pieces.append((name, data, "wb"))
            continue
        pieces.append((name, b"", "wb"))  # created empty, as open() does, then filled
        pieces.extend((name, piece, "ab") for piece in _pieces(rng, data, rng.randint(1, most)))
    for index, (name, data, mode) in enumerate(pieces):
        _act(root, name, data, mode)
        yield name, index == len(pieces) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("format", choices=sorted(PLANS))
    parser.add_argument("steps", type=int, nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-pause-s", type=float, default=0.05)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for step in args.steps:
        plan = PLANS[args.format](step, rng)
        # Taken before each piece: a late clock read must not excuse an early publication.
        before_piece = time.time()
        for _ in write_in_pieces(args.root, plan, rng):
            time.sleep(rng.uniform(0, args.max_pause_s))  # the writer's own pace, not a wait
            completed_at, before_piece = before_piece, time.time()
        entry = {"directory": plan.directory, "completed_at": completed_at}
        with args.log.open("a") as log:
            log.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    main()
