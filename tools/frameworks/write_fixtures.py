"""Checkpoints written by the pretraining frameworks' own code on CPU, for the conversion tests.

Run in the frameworks' venv (`make setup` builds it; .venv-frameworks links to it):

    PYTHONPATH=tools .venv-frameworks/bin/python tools/frameworks/write_fixtures.py OUT \
        [--group tensor|pipeline]

OUT gets `tokenizer/` (a byte-level BPE of 300 tokens: Megatron pads the vocab to 384 at
TP 1 and 512 at TP 2, so the padding rows are really there to drop), then one directory per
case, each with its run root(s) and `reference.pt` (token ids and the framework's own fp32
logits): `megatron-{gpt,llama}-tp{1,2}/{torch_dist,legacy}/iter_0000010/` from Megatron-Core's
GPTModel under torchrun and `deepspeed-zero2/run/global_step1/` from DeepSpeed's engine (group
`tensor`), or with pipeline stages `megatron-{gpt,llama}-tp1-pp2/` and `megatron-llama-tp2-pp2/`
(four gloo processes; group `pipeline`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (style, tensor-parallel size, pipeline stages) per group: each group is written (and cached)
# on its own, so neither takes longer than a test may wait on this 2-core machine.
MEGATRON_CASES = {
    "tensor": (("gpt", 1, 1), ("llama", 1, 1), ("gpt", 2, 1), ("llama", 2, 1)),
    "pipeline": (("gpt", 1, 2), ("llama", 1, 2), ("llama", 2, 2)),
}
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
    parser.add_argument(
        "--group", choices=sorted(MEGATRON_CASES), default="tensor", help="DeepSpeed's with tensor"
    )
    options = parser.parse_args()
    vocab = write_tokenizer(options.out)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DS_BUILD_OPS": "0"}
    # DeepSpeed compiles its CPU shared-memory op once (~30 s); kept beside the venv.
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path(sys.prefix) / "torch_extensions"))
    for style, tp, pp in MEGATRON_CASES[options.group]:
        out = options.out / (f"megatron-{style}-tp{tp}" + (f"-pp{pp}" if pp > 1 else ""))
        torchrun = [str(bin_dir / "torchrun"), f"--nproc-per-node={tp * pp}"]
        torchrun += [f"--master-port={options.port}", str(HERE / "megatron_fixture.py")]
        run([*torchrun, str(out), "--style", style, "--vocab", str(vocab), "--pp", str(pp)], env)
    if options.group == "tensor":
        deepspeed = [sys.executable, str(HERE / "deepspeed_fixture.py")]
        run([*deepspeed, str(options.out / "deepspeed-zero2"), "--vocab", str(vocab)], env)


if __name__ == "__main__":
    main()
