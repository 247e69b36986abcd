"""Next checkpoint ready: weight hot-swap against a cold unload + load, per serving backend.

On one tritonserver per backend (kiseki's LocalEndpointManager, the real models), two random
4x256 Llama checkpoints of one architecture (Llama: the architecture vLLM's in-place reload
is verified for, see serving/swap.py) take turns. Each round times both ways of serving the
other checkpoint next, in alternating order: `swap` (LocalEndpointManager.swap: weights
reloaded in the running engine, the fingerprint checked against the checkpoint's reference)
and `cold` (unload, then load). Medians over the rounds; `ratio` is the median of each round's
cold ÷ swap. Then, through the orchestrator's LocalTritonDeployer, a run's next checkpoints
from deploy to their last score (PROMPTS generated): warm reuse (the finished checkpoint's
model kept for the next, which swaps into it) against every checkpoint loading cold
(KISEKI_WARM_IDLE_S=0), in alternating order. vLLM needs .venv-vllm (`make setup-kube`).
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from kiseki.orchestrator.deployer import LocalTritonDeployer  # noqa: E402
from kiseki.serving.client import ScoringClient  # noqa: E402
from kiseki.serving.endpoints import LocalEndpointManager  # noqa: E402
from kiseki.serving.repository import ServingOptions  # noqa: E402
from kiseki.v1 import events_pb2 as ev  # noqa: E402
from tinygpt.corpus import demo_corpus  # noqa: E402
from tinygpt.model import build_tokenizer  # noqa: E402

ROUNDS = {"hf": 5, "vllm": 3}
LAYERS, WIDTH = 4, 256
# The deployer part: checkpoints per run in each way, and what each scores.
SEQUENCE, PROMPTS = 3, [f"問題: {n} + {n} = ?\n答え:" for n in range(64)]


def checkpoints(out: Path) -> list[Path]:
    tokenizer = build_tokenizer(demo_corpus(per_task=50))
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=WIDTH, intermediate_size=2 * WIDTH,
            num_hidden_layers=LAYERS, num_attention_heads=8, num_key_value_heads=4,
            max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
        path = out / f"llama-{seed}"
        LlamaForCausalLM(config).save_pretrained(path)
        tokenizer.save_pretrained(path)
        paths.append(path)
    return paths


async def fingerprint(manager: LocalEndpointManager, name: str) -> list[float]:
    server = manager._server
    assert server is not None
    client = ScoringClient(server.grpc_address, name)
    try:
        return await client.swap("")
    finally:
        await client.close()


async def measure(backend: str, paths: list[Path], workdir: Path) -> dict[str, float]:
    manager = LocalEndpointManager(workdir / backend, ServingOptions(backend=backend))
    await manager.start()
    try:
        references = {}
        for path in paths:  # each checkpoint's fingerprint from a cold load of it
            await manager.load("reference", path)
            references[path] = await fingerprint(manager, "reference")
            await manager.unload("reference")
        await manager.load("slot", paths[0])
        await manager.load("cold", paths[0])
        swap_s: list[float] = []
        cold_s: list[float] = []
        for round_index in range(ROUNDS[backend]):
            target = paths[(round_index + 1) % 2]

            async def swap(target: Path = target) -> None:
                await manager.swap("slot", target, references[target])

            async def cold(target: Path = target) -> None:
                await manager.unload("cold")
                await manager.load("cold", target)

            ways = ((swap, swap_s), (cold, cold_s))
            for run, times in ways if round_index % 2 == 0 else ways[::-1]:
                started = time.perf_counter()
                await run()
                times.append(time.perf_counter() - started)
        ratios = [c / s for c, s in zip(cold_s, swap_s, strict=True)]
        return {
            "swap_s": round(statistics.median(swap_s), 3),
            "cold_s": round(statistics.median(cold_s), 3),
            "ratio_cold_vs_swap": round(statistics.median(ratios), 2),
            "rounds": ROUNDS[backend],
        }
    finally:
        await manager.stop()


async def _run_sequence(deployer: LocalTritonDeployer, paths: list[Path], tag: str) -> float:
    """Median seconds from deploy to last score over a run's checkpoints after its first
    (which loads cold either way)."""
    spent = []
    for index in range(SEQUENCE):
        checkpoint = discovered(f"bench-{tag}", index, paths[index % 2])
        started = time.perf_counter()
        endpoint = await deployer.deploy(checkpoint)
        client = ScoringClient(endpoint.address, endpoint.model_name, expect=endpoint.serves)
        try:
            await client.generate(PROMPTS, max_new_tokens=8)
        finally:
            await client.close()
        spent.append(time.perf_counter() - started)
        await deployer.teardown(checkpoint.checkpoint_id, keep_warm=index < SEQUENCE - 1)
    return statistics.median(spent[1:])


async def measure_runs(backend: str, paths: list[Path], workdir: Path) -> dict[str, float]:
    options = ServingOptions(backend=backend)
    deployers = {
        way: LocalTritonDeployer(LocalEndpointManager(workdir / f"{backend}-{way}", options), idle)
        for way, idle in (("warm", 600.0), ("cold", 0.0))
    }
    times: dict[str, list[float]] = {"warm": [], "cold": []}
    try:
        for deployer in deployers.values():
            await deployer.start()
        for round_index in range(ROUNDS[backend]):
            ways = ["warm", "cold"] if round_index % 2 == 0 else ["cold", "warm"]
            for way in ways:
                tag = f"{way}-{round_index}"
                times[way].append(await _run_sequence(deployers[way], paths, tag))
    finally:
        for deployer in deployers.values():
            await deployer.close()
    ratios = [c / w for c, w in zip(times["cold"], times["warm"], strict=True)]
    return {
        "warm_deploy_to_last_score_s": round(statistics.median(times["warm"]), 3),
        "cold_deploy_to_last_score_s": round(statistics.median(times["cold"]), 3),
        "ratio_cold_vs_warm": round(statistics.median(ratios), 2),
        "prompts": len(PROMPTS),
    }


def discovered(run: str, step: int, path: Path) -> ev.CheckpointDiscovered:
    return ev.CheckpointDiscovered(
        checkpoint_id=f"{run}-{step}",
        run_id=run,
        step=step,
        uri=str(path),
        format=ev.CHECKPOINT_FORMAT_HF,
    )


def main() -> None:
    report: dict[str, object] = {"benchmark": "hot_swap", "model": f"llama {LAYERS}x{WIDTH}"}
    with tempfile.TemporaryDirectory(dir=os.environ.get("KISEKI_BENCH_DIR")) as tmp:
        paths = checkpoints(Path(tmp))
        for backend in ROUNDS:
            if backend == "vllm" and not (REPO / ".venv-vllm").exists():
                report[backend] = "not measured: .venv-vllm is missing (make setup-kube)"
                continue
            report[backend] = asyncio.run(measure(backend, paths, Path(tmp)))
            report[f"{backend}_runs"] = asyncio.run(measure_runs(backend, paths, Path(tmp)))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
