"""Log-likelihood scoring (lm-evaluation-harness style) for datasets with a label list.

Each label is a continuation of the prompt: the model returns the summed log-prob of the
continuation's tokens given the context. acc: the label with the highest sum is the answer;
acc_norm: the highest sum per character of the label (lm-evaluation-harness divides by the
continuation's length in characters), which does not favour short labels. Ties go to the first
label, as numpy's argmax does.

Separator convention: lm-evaluation-harness puts a space between context and continuation
(its target_delimiter); llm-jp-eval's prompts end with '### 応答:\\n', after which a generated
answer starts directly, so the default separator here is "" (no leading space). The separator
belongs to the continuation, so the context is the prompt unchanged and its tokens are the same
for every label; it does not count in acc_norm's length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kiseki.evaluation.datasets import Dataset


class NoChoices(ValueError):
    """Log-likelihood scoring was asked of a dataset without labels to choose from."""


def choice_requests(
    prompt: str, labels: Sequence[str], separator: str = ""
) -> list[tuple[str, str]]:
    """One (context, continuation) per label, in label order."""
    return [(prompt, separator + label) for label in labels]


def dataset_choices(dataset: Dataset) -> tuple[str, ...]:
    if not dataset.label_list:
        raise NoChoices(f"{dataset.name} has no label_list: nothing to score by log-likelihood")
    return dataset.label_list


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def chosen_label(logprobs: Sequence[float], labels: Sequence[str], normalise: bool = False) -> str:
    if len(logprobs) != len(labels) or not labels:
        raise ValueError(f"{len(logprobs)} log-probs for {len(labels)} labels")
    if normalise:
        logprobs = [lp / max(1, len(label)) for lp, label in zip(logprobs, labels, strict=True)]
    return labels[_argmax(logprobs)]


def choice_scores(logprobs: Sequence[float], labels: Sequence[str], gold: str) -> dict[str, float]:
    """acc and acc_norm of one sample, from its per-label summed log-probs."""
    return {
        "acc": float(chosen_label(logprobs, labels) == gold),
        "acc_norm": float(chosen_label(logprobs, labels, normalise=True) == gold),
    }


def gold_scores(logprob: float, gold: str) -> dict[str, float]:
    """The gold answer's log-prob under the prompt: in total, in bits per UTF-8 byte (lower is
    better; comparable across tokenizers), and as the likelihood per byte, 2^-bits (higher is
    better, in (0, 1]: what the gold mode's categories and trajectory shapes read)."""
    size = max(1, len(gold.encode("utf-8")))
    bits = -logprob / math.log(2) / size
    return {"gold_logprob": logprob, "bits_per_byte": bits, "byte_likelihood": 2.0**-bits}
