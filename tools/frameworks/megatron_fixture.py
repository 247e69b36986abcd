"""A tiny Megatron-Core GPTModel saved the way Megatron-LM saves it, with its own logits.

Run by torchrun (one process per tensor-parallel rank, gloo on CPU), in the frameworks' venv:

    torchrun --nproc-per-node TP tools/frameworks/megatron_fixture.py OUT --style llama --vocab V

OUT gets `torch_dist/` and `legacy/` run roots (`iter_0000010/` and
`latest_checkpointed_iteration.txt` each, as Megatron-LM writes them with --ckpt-format
torch_dist and torch) and `reference.pt`: the token ids and the model's own fp32 logits.
Megatron-LM's training loop is not part of the megatron-core package, so its save is
reproduced here: the state dict it builds ({args, checkpoint_version, iteration, model}) given
to megatron-core's dist_checkpointing.save, or torch.save per rank for the legacy layout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

ITERATION = 10
DIVISIBLE_BY = 128  # Megatron-LM's --make-vocab-size-divisible-by default


def cpu_only() -> None:
    """Megatron-Core calls CUDA unconditionally in three places on the save and forward paths."""
    from megatron.core import tensor_parallel

    torch.cuda.synchronize = lambda *a, **k: None
    torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment,return-value]
    tensor_parallel.get_cuda_rng_tracker().fork = lambda *a, **k: contextlib.nullcontext()


def megatron_args(style: str, vocab: int, tp: int) -> argparse.Namespace:
    """The subset of Megatron-LM's arguments (megatron/training/arguments.py names) that fixes
    the architecture, as its checkpoints carry them under `args`."""
    llama = style == "llama"
    multiple = DIVISIBLE_BY * tp
    return argparse.Namespace(
        num_layers=2,
        hidden_size=64,
        ffn_hidden_size=128 if llama else 256,
        num_attention_heads=4,
        kv_channels=16,
        group_query_attention=llama,
        num_query_groups=2 if llama else 4,
        max_position_embeddings=64,
        position_embedding_type="rope" if llama else "learned_absolute",
        rotary_base=10000,
        rotary_percent=1.0,
        normalization="RMSNorm" if llama else "LayerNorm",
        norm_epsilon=1e-5,
        swiglu=llama,
        add_bias_linear=not llama,
        add_qkv_bias=not llama,
        untie_embeddings_and_output_weights=llama,
        padded_vocab_size=(vocab + multiple - 1) // multiple * multiple,
        make_vocab_size_divisible_by=DIVISIBLE_BY,
        tensor_model_parallel_size=tp,
        pipeline_model_parallel_size=1,
        ckpt_format="torch_dist",
    )


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
    from megatron.core.models.gpt.gpt_model import GPTModel
    from megatron.core.transformer.transformer_config import TransformerConfig

    config = TransformerConfig(
        num_layers=args.num_layers,
        hidden_size=args.hidden_size,
        ffn_hidden_size=args.ffn_hidden_size,
        num_attention_heads=args.num_attention_heads,
        kv_channels=args.kv_channels,
        num_query_groups=args.num_query_groups,
        normalization=args.normalization,
        layernorm_epsilon=args.norm_epsilon,
        gated_linear_unit=args.swiglu,
        activation_func=F.silu if args.swiglu else F.gelu,
        add_bias_linear=args.add_bias_linear,
        add_qkv_bias=args.add_qkv_bias,
        bias_activation_fusion=False,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        use_cpu_initialization=True,
        tensor_model_parallel_size=args.tensor_model_parallel_size,
    )
    model: torch.nn.Module = GPTModel(
        config,
        get_gpt_layer_local_spec(normalization=args.normalization),
        vocab_size=args.padded_vocab_size,
        max_sequence_length=args.max_position_embeddings,
        parallel_output=False,
        share_embeddings_and_output_weights=not args.untie_embeddings_and_output_weights,
        position_embedding_type=args.position_embedding_type,
        rotary_base=args.rotary_base,
    )
    return model


def perturb(model: torch.nn.Module, rank: int) -> None:
    """Random values everywhere (init leaves biases at 0 and norms at 1, which would hide a
    mix-up), each rank its own for shards. Replicated parameters (norms, position embeddings,
    row-parallel biases) then come from rank 0, as training keeps them: this CPU init leaves
    the position embeddings different per rank."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            seed = zlib.crc32(name.encode()) + rank
            noise = torch.randn(param.shape, generator=torch.Generator().manual_seed(seed))
            param.copy_(param + 0.05 * noise)
            if not getattr(param, "tensor_model_parallel", False):
                torch.distributed.broadcast(param.data, src=0)


def reference(model: torch.nn.Module, vocab: int) -> dict[str, torch.Tensor]:
    tokens = torch.randint(0, vocab, (2, 12), generator=torch.Generator().manual_seed(1))
    positions = torch.arange(tokens.shape[1]).expand_as(tokens)
    causal = torch.triu(torch.ones(1, 1, tokens.shape[1], tokens.shape[1], dtype=torch.bool), 1)
    with torch.no_grad():
        logits = model(tokens, positions, causal)
    return {"tokens": tokens, "logits": logits[..., :vocab].float()}


def save(out: Path, model: torch.nn.Module, args: argparse.Namespace) -> None:
    from megatron.core import dist_checkpointing

    rank = torch.distributed.get_rank()
    common = {"args": args, "checkpoint_version": 3.0, "iteration": ITERATION}
    directory = out / "torch_dist" / f"iter_{ITERATION:07d}"
    directory.mkdir(parents=True, exist_ok=True)
    sharded = model.sharded_state_dict()  # type: ignore[operator]
    dist_checkpointing.save({**common, "model": sharded}, str(directory))
    legacy = out / "legacy" / f"iter_{ITERATION:07d}" / f"mp_rank_{rank:02d}"
    legacy.mkdir(parents=True, exist_ok=True)
    torch.save({**common, "model": model.state_dict()}, legacy / "model_optim_rng.pt")
    torch.distributed.barrier()
    if rank == 0:
        for root in ("torch_dist", "legacy"):
            (out / root / "latest_checkpointed_iteration.txt").write_text(str(ITERATION))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--style", choices=("gpt", "llama"), required=True)
    parser.add_argument("--vocab", type=int, required=True)
    options = parser.parse_args()
    from megatron.core import parallel_state

    torch.distributed.init_process_group("gloo")
    tp = torch.distributed.get_world_size()
    parallel_state.initialize_model_parallel(tp, 1)
    cpu_only()
    args = megatron_args(options.style, options.vocab, tp)
    model = build_model(args)
    perturb(model, int(os.environ["RANK"]))
    model.eval()
    ref = reference(model, options.vocab)
    save(options.out, model, args)
    if torch.distributed.get_rank() == 0:
        torch.save(ref, options.out / "reference.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":  # dist_checkpointing.save starts a multiprocessing manager
    main()
