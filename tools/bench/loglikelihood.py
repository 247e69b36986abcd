"""Log-likelihood pairs/s of 4-choice 4-shot prompts: shared contexts against the per-pair forward.

In process, on a 4-layer x 256-wide GPT-2 (untrained: speed does not depend on the weights).
`shared` is HFScorer.loglikelihood, which runs each distinct context once; `per_pair` is the
implementation before it (tests/support/full_forward.py), which ran the whole prompt for
every choice. Both score the same pairs in the same chunks, a round of each back to back;
rates are medians over the rounds, `ratio` the median of each round's shared ÷ per-pair
rate. Prints one JSON object.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "services"), str(REPO / "tools"), str(REPO / "tests")]

from kiseki.evaluation.datasets import Dataset, Sample  # noqa: E402
from kiseki.evaluation.loglikelihood import choice_requests  # noqa: E402
from kiseki.evaluation.prompts import build_prompt  # noqa: E402
from kiseki.evaluation.synthetic import SPECS  # noqa: E402
from kiseki.serving.hf_scoring import HFScorer  # noqa: E402
from kiseki.serving.results import Continuation  # noqa: E402
from support.full_forward import full_forward_loglikelihood  # noqa: E402
from tinygpt.model import build_model, build_tokenizer  # noqa: E402
from tinygpt.train import save_checkpoint  # noqa: E402

SAMPLES, SHOTS, ROUNDS = 64, 4, 5
LABELS = ("0", "1", "2", "3")
# Pairs per forward: the Triton model's default max_items_per_forward, 16 samples' choices.
CHUNK = 64
LAYERS, WIDTH = 4, 256

Score = Callable[[Sequence[tuple[str, str]]], list[Continuation]]


def _pairs() -> list[tuple[str, str]]:
    spec = SPECS["synth_mc"]
    rng = random.Random(0)
    samples = [Sample(*spec["make"](rng)) for _ in range(SAMPLES + SHOTS)]
    dataset = Dataset("synth_mc", spec["instruction"], spec["output_length"], ("acc",), ())
    shots, tests = samples[:SHOTS], samples[SHOTS:]
    prompts = [build_prompt(dataset, sample, shots) for sample in tests]
    return [pair for prompt in prompts for pair in choice_requests(prompt, LABELS)]


def _checkpoint(out: Path, pairs: list[tuple[str, str]]) -> Path:
    tokenizer = build_tokenizer([context for context, _ in pairs[::4]])
    model = build_model(len(tokenizer), seed=0, layers=LAYERS, width=WIDTH)
    return save_checkpoint(model, tokenizer, out, 0, 0)


def _timed(score: Score, pairs: list[tuple[str, str]]) -> tuple[float, list[Continuation]]:
    started, results = time.perf_counter(), []
    for start in range(0, len(pairs), CHUNK):
        results += score(pairs[start : start + CHUNK])
    return time.perf_counter() - started, results


def main() -> None:
    pairs = _pairs()
    with tempfile.TemporaryDirectory() as tmp:
        scorer = HFScorer(_checkpoint(Path(tmp), pairs), device="cpu")
    sides: dict[str, Score] = {
        "per_pair": lambda part: full_forward_loglikelihood(scorer, part),
        "shared": scorer.loglikelihood,
    }
    seconds: dict[str, list[float]] = {side: [] for side in sides}
    results: dict[str, list[Continuation]] = {}
    for round_index in range(ROUNDS + 1):  # round 0 warms both up
        for side, score in sides.items():
            elapsed, results[side] = _timed(score, pairs)
            if round_index:
                seconds[side].append(elapsed)
    difference = max(
        abs(a.logprob - b.logprob)
        for a, b in zip(results["shared"], results["per_pair"], strict=True)
    )
    context_tokens = [len(scorer.tokenizer.encode(context)) for context, _ in pairs[::4]]
    print(
        json.dumps(
            {
                "benchmark": "loglikelihood_shared_context",
                "model": f"gpt2 {LAYERS}x{WIDTH}",
                "pairs": len(pairs),
                "choices": len(LABELS),
                "shots": SHOTS,
                "pairs_per_forward": CHUNK,
                "context_tokens_mean": round(statistics.mean(context_tokens), 1),
                **{
                    f"{side}_pairs_per_s": round(len(pairs) / statistics.median(values), 1)
                    for side, values in seconds.items()
                },
                # Each round's two sides ran back to back: their ratio cancels the drift in
                # this shared machine's speed between rounds.
                "ratio": round(
                    statistics.median(
                        before / after
                        for before, after in zip(
                            seconds["per_pair"], seconds["shared"], strict=True
                        )
                    ),
                    3,
                ),
                "max_abs_logprob_difference": difference,
                "greedy_flags_equal": [r.is_greedy for r in results["shared"]]
                == [r.is_greedy for r in results["per_pair"]],
            }
        )
    )


if __name__ == "__main__":
    main()
