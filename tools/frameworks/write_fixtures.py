"""Checkpoints written by the pretraining frameworks' own code on CPU, for the conversion tests.

Run in the frameworks' venv (`make setup` builds it; .venv-frameworks links to it):

    PYTHONPATH=tools .venv-frameworks/bin/python tools/frameworks/write_fixtures.py OUT

OUT gets `tokenizer/` (a byte-level BPE of 300 tokens: Megatron pads the vocab to 384 at
TP 1 and 512 at TP 2, so the padding rows are really there to drop), then one directory per
case, each with its run root(s) and `reference.pt` (token ids and the framework's own fp32
logits): `megatron-{gpt,llama}-tp{1,2}/{torch_dist,legacy}/iter_0000010/` from Megatron-Core's
GPTModel under torchrun, `deepspeed-zero2/run/global_step1/` from DeepSpeed's engine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEGATRON_CASES = (("gpt", 1), ("llama", 1), ("gpt", 2), ("llama", 2))
CORPUS = [
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    "The quick brown fox jumps over the lazy dog.",
    *(f"問題: {a} + {b} = ?\n答え: {a + b}\n\n" for a in range(10) for b in range(10)),
]


def write_tokenizer(out: Path) -> int:
    from tinygpt.model import build_tokenizer

    tokenizer = build_tokenizer(CORPUS, vocab_size=300)
    tokenizer.save_pretrained(out / "tokenizer")
    return len(tokenizer)


def run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"{' '.join(command)} failed with exit status {result.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--port", type=int, default=29517, help="torchrun's rendezvous port")
    options = parser.parse_args()
    vocab = write_tokenizer(options.out)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_BUILD_OPS": "0"}
    # DeepSpeed compiles its CPU shared-memory op once (~30 s); kept beside the venv.
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    for style, tp in MEGATRON_CASES:
        out = options.out / f"megatron-{style}-tp{tp}"
        torchrun = [str(bin_dir / "torchrun"), f"--nproc-per-node={tp}"]
        torchrun += [f"--master-port={options.port}", str(HERE / "megatron_fixture.py")]
        run([*torchrun, str(out), "--style", style, "--vocab", str(vocab)], env)
    deepspeed = [sys.executable, str(HERE / "deepspeed_fixture.py")]
    run([*deepspeed, str(options.out / "deepspeed-zero2"), "--vocab", str(vocab)], env)


if __name__ == "__main__":
    main()
