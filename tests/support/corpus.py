"""The tiny GPT's training text for the tests' checkpoints: sums it learns to answer, plus
some plain text."""

TINY_CORPUS = [f"問題: {a} + {b} = ?\n答え: {a + b}\n\n" for a in range(20) for b in range(20)] + [
    "吾輩は猫である。名前はまだ無い。\n\n",
    "The quick brown fox jumps over the lazy dog.\n\n",
] * 20
