"""A tiny HF GPT-2 trained one step under DeepSpeed ZeRO on CPU, saved by DeepSpeed itself.

Run in the frameworks' venv (DeepSpeed built with DS_BUILD_OPS=0; its CPU accelerator uses gloo):

    python tools/frameworks/deepspeed_fixture.py OUT --vocab V --stage 2

OUT/run gets what `engine.save_checkpoint` writes (`latest`, `zero_to_fp32.py`,
`global_step1/`) and the model's config.json (DeepSpeed's files carry no architecture: a run
over an HF model keeps it beside them); OUT/reference.pt holds token ids and the module's own
fp32 logits after the step.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--vocab", type=int, required=True)
    parser.add_argument("--stage", type=int, default=2)
    options = parser.parse_args()
    for name, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
        os.environ.setdefault(name, value)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    import deepspeed

    from tinygpt.model import build_model

    model = build_model(options.vocab, seed=3)
    config = {
        "train_micro_batch_size_per_gpu": 2,
        "zero_optimization": {"stage": options.stage},
        "steps_per_print": 1000,
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    deepspeed.init_distributed(dist_backend="gloo")
    engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)
    batch = torch.randint(0, options.vocab, (2, 16), generator=torch.Generator().manual_seed(2))
    loss = engine(input_ids=batch, labels=batch).loss
    engine.backward(loss)
    engine.step()
    run = options.out / "run"
    engine.save_checkpoint(str(run), tag="global_step1")
    model.config.save_pretrained(run)
    engine.module.eval()
    tokens = torch.randint(0, options.vocab, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = engine.module(input_ids=tokens).logits.float()
    torch.save({"tokens": tokens, "logits": logits}, options.out / "reference.pt")


if __name__ == "__main__":
    main()
