"""A tiny Megatron-Core GPTModel saved the way Megatron-LM saves it, with its own logits.

Run by torchrun (one process per tensor-parallel rank and pipeline stage, gloo on CPU), in the
frameworks' venv:

    torchrun --nproc-per-node TP*PP tools/frameworks/megatron_fixture.py OUT --style llama \
        --vocab V --pp PP

OUT gets `torch_dist/` and `legacy/` run roots (`iter_0000010/` and
`latest_checkpointed_iteration.txt` each, as Megatron-LM writes them with --ckpt-format
torch_dist and torch) and `reference.pt`: the token ids and the model's own fp32 logits.
Megatron-LM's training loop is not part of the megatron-core package, so its save is
reproduced here: the state dict it builds ({args, checkpoint_version, iteration, model}) given
to megatron-core's dist_checkpointing.save, or torch.save per rank for the legacy layout
(`mp_rank_TT` or, with pipeline stages, `mp_rank_TT_PPP`, each stage's layers numbered from 0).
With pipeline stages the reference forward is the schedule's one step done by hand: each stage
runs its own GPTModel on the activations the previous stage sent (`set_input_tensor`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import zlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

ITERATION = 10
DIVISIBLE_BY = 128  # Megatron-LM's --make-vocab-size-divisible-by default


def cpu_only() -> None:
    """Megatron-Core calls CUDA unconditionally in three places on the save and forward paths,
    and a fourth with pipeline stages: the tied embedding's copy on the last stage is moved with
    `.cuda()` before its all-reduce."""
    from megatron.core import tensor_parallel

    torch.cuda.synchronize = lambda *a, **k: None
    torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment,return-value]
    tensor_parallel.get_cuda_rng_tracker().fork = lambda *a, **k: contextlib.nullcontext()
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]


def megatron_args(style: str, vocab: int, tp: int, pp: int) -> argparse.Namespace:
    """The subset of Megatron-LM's arguments (megatron/training/arguments.py names) that fixes
    the architecture, as its checkpoints carry them under `args`."""
    llama = style == "llama"
    multiple = DIVISIBLE_BY * tp
    return argparse.Namespace(
        num_layers=2 * pp,
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
        pipeline_model_parallel_size=pp,
        ckpt_format="torch_dist",
    )


def build_model(args: argparse.Namespace) -> torch.nn.Module:
    from megatron.core import parallel_state
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
        pipeline_model_parallel_size=args.pipeline_model_parallel_size,
        pipeline_dtype=torch.float32,
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
        pre_process=parallel_state.is_pipeline_first_stage(),
        post_process=parallel_state.is_pipeline_last_stage(),
    )
    return model


def perturb(model: Any, rank: int) -> None:
    """Random values everywhere (init leaves biases at 0 and norms at 1, which would hide a
    mix-up), each rank its own for shards. Replicated parameters (norms, position embeddings,
    row-parallel biases) then come from the stage's first tensor-parallel rank, as training
    keeps them: this CPU init leaves the position embeddings different per rank. A tied
    embedding's copy on the last stage is made again as Megatron-Core makes it (zeroed, then
    all-reduced with the first stage's)."""
    from megatron.core import parallel_state

    group = parallel_state.get_tensor_model_parallel_group()
    source = parallel_state.get_tensor_model_parallel_src_rank()
    with torch.no_grad():
        for name, param in model.named_parameters():
            seed = zlib.crc32(name.encode()) + rank
            noise = torch.randn(param.shape, generator=torch.Generator().manual_seed(seed))
            param.copy_(param + 0.05 * noise)
            if not getattr(param, "tensor_model_parallel", False):
                torch.distributed.broadcast(param.data, src=source, group=group)
        stages = parallel_state.get_pipeline_model_parallel_world_size()
        tied = stages > 1 and model.share_embeddings_and_output_weights
        if tied and model._is_in_embd_group():
            weight = model.shared_embedding_or_output_weight()
            if not model.pre_process:
                weight.data.fill_(0)
            torch.distributed.all_reduce(weight.data, group=model.embd_group)


def forward(model: Any, tokens: torch.Tensor) -> torch.Tensor | None:
    """The model's logits on the last stage (None elsewhere), each stage fed the previous
    stage's activations (sequence-first) as Megatron-Core's pipeline schedule feeds them."""
    from megatron.core import parallel_state

    positions = torch.arange(tokens.shape[1]).expand_as(tokens)
    causal = torch.triu(torch.ones(1, 1, tokens.shape[1], tokens.shape[1], dtype=torch.bool), 1)
    if not parallel_state.is_pipeline_first_stage():
        shape = (tokens.shape[1], tokens.shape[0], model.config.hidden_size)
        received = torch.empty(shape)
        torch.distributed.recv(received, src=parallel_state.get_pipeline_model_parallel_prev_rank())
        model.set_input_tensor(received)
    with torch.no_grad():
        output: torch.Tensor = model(tokens, positions, causal)
    if not parallel_state.is_pipeline_last_stage():
        torch.distributed.send(
            output.contiguous(), dst=parallel_state.get_pipeline_model_parallel_next_rank()
        )
        return None
    return output


def reference(model: torch.nn.Module, vocab: int) -> dict[str, torch.Tensor] | None:
    tokens = torch.randint(0, vocab, (2, 12), generator=torch.Generator().manual_seed(1))
    logits = forward(model, tokens)
    if logits is None:
        return None
    return {"tokens": tokens, "logits": logits[..., :vocab].float()}


def save(out: Path, model: torch.nn.Module, args: argparse.Namespace) -> None:
    from megatron.core import dist_checkpointing, parallel_state

    tp_rank = parallel_state.get_tensor_model_parallel_rank()
    stage = parallel_state.get_pipeline_model_parallel_rank()
    staged = args.pipeline_model_parallel_size > 1
    shard = f"mp_rank_{tp_rank:02d}" + (f"_{stage:03d}" if staged else "")
    common = {"args": args, "checkpoint_version": 3.0, "iteration": ITERATION}
    directory = out / "torch_dist" / f"iter_{ITERATION:07d}"
    directory.mkdir(parents=True, exist_ok=True)
    sharded = model.sharded_state_dict()  # type: ignore[operator]
    dist_checkpointing.save({**common, "model": sharded}, str(directory))
    legacy = out / "legacy" / f"iter_{ITERATION:07d}" / shard
    legacy.mkdir(parents=True, exist_ok=True)
    torch.save({**common, "model": model.state_dict()}, legacy / "model_optim_rng.pt")
    torch.distributed.barrier()
    if torch.distributed.get_rank() == 0:
        for root in ("torch_dist", "legacy"):
            (out / root / "latest_checkpointed_iteration.txt").write_text(str(ITERATION))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--style", choices=("gpt", "llama"), required=True)
    parser.add_argument("--vocab", type=int, required=True)
    parser.add_argument("--pp", type=int, default=1, help="pipeline stages; TP = world / PP")
    options = parser.parse_args()
    from megatron.core import parallel_state

    torch.distributed.init_process_group("gloo")
    tp = torch.distributed.get_world_size() // options.pp
    parallel_state.initialize_model_parallel(tp, options.pp)
    cpu_only()
    args = megatron_args(options.style, options.vocab, tp, options.pp)
    model = build_model(args)
    perturb(model, int(os.environ["RANK"]))
    model.eval()
    ref = reference(model, options.vocab)
    save(options.out, model, args)
    if ref is not None and parallel_state.get_tensor_model_parallel_rank() == 0:
        torch.save(ref, options.out / "reference.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":  # dist_checkpointing.save starts a multiprocessing manager
    main()
