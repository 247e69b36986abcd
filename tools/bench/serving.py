"""Samples/s through Triton + gRPC (packed requests) against in-process batched HF.

Same checkpoint, same items, same batch size on both sides; generation and log-likelihood.
Rounds alternate between the two sides; rates are medians over the rounds. Prints one JSON
object; `ratio` = Triton samples/s ÷ in-process samples/s, the median over the rounds of
each round's pair (target ≥ 0.9).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

from kiseki.serving.client import ScoringClient  # noqa: E402
from kiseki.serving.endpoints import LocalEndpointManager  # noqa: E402
from kiseki.serving.hf_scoring import HFScorer  # noqa: E402
from kiseki.serving.repository import ServingOptions  # noqa: E402
from tinygpt.train import TrainConfig, train  # noqa: E402

ITEMS, BATCH, MAX_NEW_TOKENS, ROUNDS = 1024, 256, 16, 7
# Requests in flight, as the task-runner keeps them (KISEKI_RUNNER_MAX_IN_FLIGHT): the next
# request waits in Triton's queue while one computes, so the model never idles between them.
IN_FLIGHT = 2
# The project's tiny GPT (see tools/tinygpt); set larger to study how the ratio moves.
LAYERS, WIDTH = 2, 64
CORPUS = [f"問題: {a} + {b} = ?\n答え: {a + b}\n\n" for a in range(30) for b in range(30)]
PROMPTS = [f"問題: {i % 50} + {i // 50} = ?\n答え:" for i in range(ITEMS)]
PAIRS = [(prompt, f" {i % 50 + i // 50}") for i, prompt in enumerate(PROMPTS)]


async def _timed(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return time.perf_counter() - started


async def measure(checkpoint: Path, workdir: Path) -> dict[str, dict[str, float]]:
    """Alternate in-process and Triton rounds so both see the same machine load."""
    scorer = HFScorer(checkpoint, device="cpu")
    manager = LocalEndpointManager(
        workdir, ServingOptions(max_batch_size=BATCH, max_items_per_forward=BATCH)
    )
    endpoint = await manager.load("bench", checkpoint)
    client = ScoringClient(
        endpoint.address, "bench", items_per_request=BATCH, max_in_flight=IN_FLIGHT
    )
    chunks = range(0, ITEMS, BATCH)

    async def local_generate() -> None:
        for start in chunks:
            scorer.generate(PROMPTS[start : start + BATCH], MAX_NEW_TOKENS)

    async def local_loglikelihood() -> None:
        for start in chunks:
            scorer.loglikelihood(PAIRS[start : start + BATCH])

    kinds = {
        "generate": (local_generate, lambda: client.generate(PROMPTS, MAX_NEW_TOKENS)),
        "loglikelihood": (local_loglikelihood, lambda: client.loglikelihood(PAIRS)),
    }
    timings: dict[str, dict[str, list[float]]] = {k: {"local": [], "triton": []} for k in kinds}
    try:
        for round_index in range(ROUNDS + 1):  # round 0 warms both sides up
            for kind, (local, served) in kinds.items():
                local_s, served_s = await _timed(local), await _timed(served)
                if round_index:
                    timings[kind]["local"].append(local_s)
                    timings[kind]["triton"].append(served_s)
    finally:
        await client.close()
        await manager.stop()
    return {
        kind: {
            **{side: ITEMS / statistics.median(values) for side, values in sides.items()},
            # Each round's two sides ran back to back: their ratio cancels the drift in this
            # shared machine's speed between rounds.
            "ratio": statistics.median(
                local / served
                for local, served in zip(sides["local"], sides["triton"], strict=True)
            ),
        }
        for kind, sides in timings.items()
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(out_dir=Path(tmp), checkpoint_steps=(100,), layers=LAYERS, width=WIDTH)
        [checkpoint] = train(CORPUS, config)
        rates = asyncio.run(measure(checkpoint, Path(tmp) / "triton"))
    print(
        json.dumps(
            {
                "benchmark": "serving",
                "items": ITEMS,
                "items_per_request": BATCH,
                "requests_in_flight": IN_FLIGHT,
                "max_new_tokens": MAX_NEW_TOKENS,
                **{
                    kind: {
                        "triton_samples_per_s": round(rates[kind]["triton"], 1),
                        "in_process_samples_per_s": round(rates[kind]["local"], 1),
                        "ratio": round(rates[kind]["ratio"], 3),
                        "target_ratio": 0.9,
                    }
                    for kind in ("generate", "loglikelihood")
                },
            }
        )
    )


if __name__ == "__main__":
    main()
