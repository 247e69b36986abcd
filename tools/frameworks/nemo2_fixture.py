"""NeMo 2 checkpoints of a tiny Megatron-Core GPTModel (GPT and Llama style), with its logits.

    PYTHONPATH=tools .venv-frameworks/bin/torchrun --nproc-per-node 1 \
        tools/frameworks/nemo2_fixture.py OUT

NeMo itself does not import here (nemo_toolkit 2.7.3 with --no-deps stops at its run and
logging dependencies; 3.0 has no nemo.collections.llm), so only the part of a NeMo 2
checkpoint that NeMo delegates to Megatron-Core is written by the framework: `weights/` is
megatron-core's dist_checkpointing.save of the model's sharded state dict under the `module.`
prefix NeMo's MegatronParallel wrapper gives it. `context/model.yaml` (NeMo's YAML of the
model: `_target_` and its `config`, TransformerConfig field names) is written here, following
the layout of nemo/lightning/io/mixin.py (io_dump) and nemo/collections/llm/gpt/model/; NeMo's
`io.json` (a fiddle graph needing NeMo to read) is not. OUT gets `tokenizer/` and
`nemo2-{gpt,llama}/` with `run/checkpoints/model--step=10-consumed_samples=20.0/` and
`reference.pt`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
import yaml  # type: ignore[import-untyped]
from frameworks.megatron_fixture import (
    ITERATION,
    build_model,
    cpu_only,
    megatron_args,
    perturb,
    reference,
)
from frameworks.write_fixtures import write_tokenizer

CHECKPOINT = f"model--step={ITERATION}-consumed_samples=20.0"
TOKENIZER = "nemo.collections.common.tokenizers.huggingface.auto_tokenizer.AutoTokenizer"
TARGETS = {
    "gpt": ("nemo.collections.llm.gpt.model.base.GPTModel", "GPTConfig"),
    "llama": ("nemo.collections.llm.gpt.model.llama.LlamaModel", "LlamaConfig"),
}


def model_yaml(style: str, args: argparse.Namespace) -> dict[str, Any]:
    model, config = TARGETS[style]
    activation = "silu" if args.swiglu else "gelu"
    return {
        "_target_": model,
        "config": {
            "_target_": f"{model.rsplit('.', 1)[0]}.{config}",
            "num_layers": args.num_layers,
            "hidden_size": args.hidden_size,
            "ffn_hidden_size": args.ffn_hidden_size,
            "num_attention_heads": args.num_attention_heads,
            "num_query_groups": args.num_query_groups,
            "kv_channels": args.kv_channels,
            "seq_length": args.max_position_embeddings,
            "normalization": args.normalization,
            "layernorm_epsilon": args.norm_epsilon,
            "gated_linear_unit": args.swiglu,
            "activation_func": {"_target_": f"torch.nn.functional.{activation}", "_call_": False},
            "add_bias_linear": args.add_bias_linear,
            "add_qkv_bias": args.add_qkv_bias,
            "position_embedding_type": args.position_embedding_type,
            "rotary_base": args.rotary_base,
            "rotary_percent": args.rotary_percent,
            "share_embeddings_and_output_weights": not args.untie_embeddings_and_output_weights,
            "make_vocab_size_divisible_by": args.make_vocab_size_divisible_by,
            "tensor_model_parallel_size": 1,
            "pipeline_model_parallel_size": 1,
        },
        "tokenizer": {
            "_target_": TOKENIZER,
            "pretrained_model_name": "nemo_tokenizer",
        },
    }


def write(out: Path, style: str, vocab: int, tokenizer: Path) -> None:
    from megatron.core import dist_checkpointing

    args = megatron_args(style, vocab, 1, 1)
    model = build_model(args)
    perturb(model, 0)
    model.eval()
    checkpoint = out / "run" / "checkpoints" / CHECKPOINT
    weights = checkpoint / "weights"
    weights.mkdir(parents=True)
    common = {"global_step": ITERATION, "epoch": 0}
    sharded = model.sharded_state_dict(prefix="module.")  # type: ignore[operator]
    dist_checkpointing.save({**common, **sharded}, str(weights))
    context = checkpoint / "context"
    context.mkdir()
    (context / "model.yaml").write_text(yaml.safe_dump(model_yaml(style, args), sort_keys=False))
    for item in tokenizer.iterdir():
        (context / "nemo_tokenizer").mkdir(exist_ok=True)
        (context / "nemo_tokenizer" / item.name).write_bytes(item.read_bytes())
    torch.save(reference(model, vocab), out / "reference.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    options = parser.parse_args()
    from megatron.core import parallel_state

    torch.distributed.init_process_group("gloo")
    parallel_state.initialize_model_parallel(1, 1)
    cpu_only()
    vocab = write_tokenizer(options.out)
    for style in TARGETS:
        write(options.out / f"nemo2-{style}", style, vocab, options.out / "tokenizer")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":  # dist_checkpointing.save starts a multiprocessing manager
    main()
