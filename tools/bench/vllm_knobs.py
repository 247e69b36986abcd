"""vLLM's engine knobs, measured: compute threads, sequences per step, KV cache size.

vLLM's offline engine as kiseki's vLLM model starts it (EngineKnobs), one process per variant,
on vllm_serving's checkpoint and 1,024 four-shot prompts (16 new tokens, greedy). Rounds go
through the variants in a rotating order; each variant's ratio is the median over rounds of
the baseline's time over its own in the same round. The baseline is kiseki's default knobs
(serving/repository.py ServingOptions). Prints one JSON object; needs .venv-vllm.
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
    "default": BASELINE,
    "two_threads": {**BASELINE, "threads_bind": "0-1"},
    "max_num_seqs_64": {**BASELINE, "max_num_seqs": 64},
    "kv_cache_256mib": {**BASELINE, "kv_cache_bytes": 2**28},
}


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
        engines = {
            name: Offline(checkpoint, prompts_file, knobs) for name, knobs in VARIANTS.items()
        }
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        try:
            names = list(VARIANTS)
            for round_index in range(ROUNDS + 1):  # round 0 warms every engine up
                shift = round_index % len(names)
                for name in names[shift:] + names[:shift]:
                    spent = engines[name].round_s()
                    if round_index:
                        seconds[name].append(spent)
        finally:
            for engine in engines.values():
                engine.close()
    base = seconds["default"]
    print(
        json.dumps(
            {
                "benchmark": "vllm_knobs",
                "model": f"gpt2 {LAYERS}x{WIDTH}",
                "items": ITEMS,
                "rounds": ROUNDS,
                "variants": VARIANTS,
                "samples_per_s": {
                    n: round(ITEMS / statistics.median(s), 1) for n, s in seconds.items()
                },
                "speedup_over_default": {
                    n: round(statistics.median(b / t for b, t in zip(base, s, strict=True)), 3)
                    for n, s in seconds.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
