"""A Megatron-Core GPTModel big enough for conversion throughput to mean something (Llama
style, 8 layers of width 1024, GQA with 8 groups, SwiGLU: ~94M parameters, ~0.4 GB in fp32),
saved as Megatron-LM saves it (`torch_dist/` and `legacy/` run roots, as megatron_fixture.py
writes them), with the tokenizer of the small fixtures. No reference logits: the conversion
tests check equality on the small ones. One gloo process, in the frameworks' venv:

    torchrun --nproc-per-node 1 tools/frameworks/megatron_bench_fixture.py OUT

(tools/bench/conversion.py has it written once, cached like the tests' fixtures.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from frameworks.megatron_fixture import build_model, cpu_only, megatron_args, save
from frameworks.write_fixtures import write_tokenizer

LAYERS, HIDDEN, HEADS, GROUPS, FFN = 8, 1024, 16, 8, 2816


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    options = parser.parse_args()
    from megatron.core import parallel_state

    torch.distributed.init_process_group("gloo")
    parallel_state.initialize_model_parallel(1, 1)
    cpu_only()
    vocab = write_tokenizer(options.out)
    args = megatron_args("llama", vocab, tp=1, pp=1)
    args.num_layers, args.hidden_size, args.ffn_hidden_size = LAYERS, HIDDEN, FFN
    args.num_attention_heads, args.num_query_groups = HEADS, GROUPS
    args.kv_channels = HIDDEN // HEADS
    model = build_model(args)
    save(options.out / "megatron-llama-bench", model, args)
    torch.distributed.destroy_process_group()


if __name__ == "__main__":  # dist_checkpointing.save starts a multiprocessing manager
    main()
