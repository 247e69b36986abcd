"""vLLM's engine knobs, measured: compute threads, sequences per step, KV cache size.

vLLM's offline engine as kiseki's vLLM model starts it (EngineKnobs), one process per side,
on vllm_serving's checkpoint and 1,024 four-shot prompts (16 new tokens, greedy). Each variant
runs beside an engine with kiseki's default knobs (serving/repository.py ServingOptions), the
two taking turns in alternating order; its speedup is the median over rounds of the default's
time over its own in the same round. Prints one JSON object; needs .venv-vllm.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools")]

from bench.vllm_serving import ITEMS, LAYERS, WIDTH, Offline, prompts  # noqa: E402

from kiseki.local.paths import vllm_env_dir  # noqa: E402
from kiseki.serving.repository import ServingOptions  # noqa: E402
from tinygpt.train import TrainConfig, train  # noqa: E402

ROUNDS = 3
DEFAULT = ServingOptions()
BASELINE = {
    "threads_bind": DEFAULT.vllm_threads_bind,
    "kv_cache_bytes": DEFAULT.vllm_kv_cache_bytes,
    "max_num_seqs": DEFAULT.max_batch_size,
}
VARIANTS: dict[str, dict[str, object]] = {
    "two_threads": {**BASELINE, "threads_bind": "0-1"},
    "max_num_seqs_64": {**BASELINE, "max_num_seqs": 64},
    "kv_cache_256mib": {**BASELINE, "kv_cache_bytes": 2**28},
}


def _pairs(
    checkpoint: Path, prompts_file: Path, knobs: dict[str, object]
) -> list[tuple[float, float]]:
    """(default's seconds, variant's seconds) per round, two engines at a time (memory)."""
    engines = [Offline(checkpoint, prompts_file, BASELINE)]
    pairs = []
    try:
        engines.append(Offline(checkpoint, prompts_file, knobs))
        for round_index in range(ROUNDS + 1):  # round 0 warms both up
            order = [1, 0] if round_index % 2 else [0, 1]
            spent = {side: engines[side].round_s() for side in order}
            if round_index:
                pairs.append((spent[0], spent[1]))
    finally:
        for engine in engines:
            engine.close()
    return pairs


def main() -> None:
    if not vllm_env_dir().exists():
        print(json.dumps({"benchmark": "vllm_knobs", "skipped": ".venv-vllm is missing"}))
        return
    texts = prompts()
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(out_dir=Path(tmp), checkpoint_steps=(0,), layers=LAYERS, width=WIDTH)
        [checkpoint] = train([text + "\n\n" for text in texts[:64]], config)
        prompts_file = Path(tmp) / "prompts.json"
        prompts_file.write_text(json.dumps(texts))
        pairs = {name: _pairs(checkpoint, prompts_file, knobs) for name, knobs in VARIANTS.items()}
    print(
        json.dumps(
            {
                "benchmark": "vllm_knobs",
                "model": f"gpt2 {LAYERS}x{WIDTH}",
                "items": ITEMS,
                "rounds": ROUNDS,
                "default": BASELINE,
                "variants": VARIANTS,
                "samples_per_s": {
                    name: {
                        "default": round(ITEMS / statistics.median(d for d, _ in each), 1),
                        "variant": round(ITEMS / statistics.median(v for _, v in each), 1),
                    }
                    for name, each in pairs.items()
                },
                "speedup_over_default": {
                    name: round(statistics.median(d / v for d, v in each), 3)
                    for name, each in pairs.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
