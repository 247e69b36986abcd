"""String metrics computed per sample, as llm-jp-eval defines them.

char_f1 reproduces fuzzywuzzy's `token_sort_ratio(pred, gold) / 100` with its C backend
(python-Levenshtein, which llm-jp-eval installs): drop the characters U+0080..U+00FF (its
force_ascii), turn non-word characters into spaces, lowercase, strip, sort the tokens, then
the Indel similarity in whole percent (Python's round, half to even). Equal processed strings
score 100, two empties included; one empty side scores 0.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import Indel

_LATIN1 = dict.fromkeys(range(128, 256))
_NON_WORD = re.compile(r"(?ui)\W")


def exact_match(prediction: str, gold: str) -> float:
    return float(prediction == gold)


def sorted_tokens(text: str) -> str:
    """fuzzywuzzy's full_process followed by its token sort."""
    processed = _NON_WORD.sub(" ", text.translate(_LATIN1)).lower().strip()
    return " ".join(sorted(processed.split()))


def char_f1(prediction: str, gold: str) -> float:
    left, right = sorted_tokens(prediction), sorted_tokens(gold)
    if left == right:
        return 1.0
    if not left or not right:
        return 0.0
    return round(100 * Indel.normalized_similarity(left, right)) / 100


def set_f1(prediction: str, gold: str) -> float:
    """Prediction lines de-duplicated, gold lines kept with repeats; both stripped."""
    predicted = {item.strip() for item in prediction.split("\n")}
    expected = [item.strip() for item in gold.split("\n")]
    matches = sum(1 for item in predicted if item in expected)
    precision = matches / len(predicted)
    recall = matches / len(expected)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
