"""HFScorer.loglikelihood runs a shared context once and scores as the per-pair forward did.

The reference is the implementation before shared contexts (support.full_forward): values
within 1e-5 in float32, the same greedy flags, results in the order of the pairs.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kiseki.serving.hf_scoring import HFScorer
from support.full_forward import full_forward_loglikelihood

SHOT = "問題: {a} + {b} = ?\n答え: {c}\n\n"
LONG = "".join(SHOT.format(a=a, b=1, c=a + 1) for a in range(200))  # past 512 positions


def _question(a: int, b: int, shots: int = 4) -> str:
    examples = "".join(SHOT.format(a=a + i, b=b, c=a + i + b) for i in range(1, shots + 1))
    return examples + f"問題: {a} + {b} = ?\n答え:"


def _pairs() -> list[tuple[str, str]]:
    """Four-choice samples (one context, four continuations of one or more tokens), lone
    pairs, an empty context and one longer than the model's positions, shuffled."""
    pairs = [
        (_question(a, b), f" {choice}")
        for a, b in [(3, 4), (12, 7), (5, 5)]
        for choice in (a + b, a + b + 1, a + b - 10, 100 + a)
    ]
    pairs += [(_question(8, 1, shots=1), " 9"), ("吾輩は", "猫である。名前はまだ無い。")]
    pairs += [("", "The quick brown fox"), (LONG + "問題: 3 + 1 = ?\n答え:", " 4")]
    pairs += [(LONG + "問題: 3 + 1 = ?\n答え:", " 4ですね、答えは")]
    random.Random(0).shuffle(pairs)
    return pairs


@pytest.mark.parametrize("step", [0, 60])
def test_shared_contexts_score_as_the_per_pair_forward(
    tiny_checkpoints: dict[int, Path], step: int
) -> None:
    scorer = HFScorer(tiny_checkpoints[step], device="cpu")
    pairs = _pairs()
    assert scorer.max_positions is not None
    assert len(scorer.tokenizer.encode(LONG)) > scorer.max_positions
    assert len({context for context, _ in pairs}) < len(pairs)
    lengths = {len(scorer.tokenizer.encode(continuation)) for _, continuation in pairs}
    assert 1 in lengths
    assert max(lengths) > 1
    shared = scorer.loglikelihood(pairs)
    reference = full_forward_loglikelihood(scorer, pairs)
    assert [r.logprob for r in shared] == pytest.approx([r.logprob for r in reference], abs=1e-5)
    assert [r.is_greedy for r in shared] == [r.is_greedy for r in reference]
    assert any(r.is_greedy for r in reference) == (step > 0)  # the flag is compared, not all False
    alone = [scorer.loglikelihood([pair])[0] for pair in pairs[:3]]
    assert [r.logprob for r in alone] == pytest.approx([r.logprob for r in shared[:3]], abs=1e-5)
