"""Translation and summarisation metrics, per sample, as llm-jp-eval computes them.

bleu_en/bleu_ja: for each sample, sacrebleu `BLEU(effective_order=True)` (`trg_lang="ja"`, so
the ja-mecab tokenizer, for bleu_ja) called as llm-jp-eval calls it: `corpus_score(pred,
[gold])` on the stripped strings. Passing strings rather than lists makes sacrebleu read each
character as a segment, so this is not textbook BLEU; it is llm-jp-eval's number, on its 0-100
scale. When either side is empty the value is 100.0 if both are, else 0.0 (sacrebleu would
raise). The dataset score is the mean.

rouge1/rouge2/rougeLsum (xlsum_ja): rouge-score F-measures over MeCab words (Japanese has no
spaces), sentences split after 。！？ for rougeLsum, averaged over samples on a 0-1 scale.
llm-jp-eval reports the median of a bootstrap over samples, which estimates this mean.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

# Imported when first scored: rouge-score pulls nltk and scipy.stats (seconds), which a
# command that scores exact_match, or only reads the store, should not pay at start.
if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer
    from sacrebleu.metrics.bleu import BLEU

_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


@cache
def _bleu(target_language: str) -> BLEU:
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(trg_lang=target_language, effective_order=True)


def _sample_bleu(target_language: str, prediction: str, gold: str) -> float:
    prediction, gold = prediction.strip(), gold.strip()
    if not prediction or not gold:
        return 100.0 * (prediction == gold)
    return float(_bleu(target_language).corpus_score(prediction, [gold]).score)


def bleu_en(prediction: str, gold: str) -> float:
    return _sample_bleu("en", prediction, gold)


def bleu_ja(prediction: str, gold: str) -> float:
    return _sample_bleu("ja", prediction, gold)


class _MecabWords:
    """The word tokenizer rouge-score calls; MeCab via sacrebleu's ja-mecab."""

    def __init__(self) -> None:
        from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

        self._mecab = TokenizerJaMecab()  # type: ignore[no-untyped-call]

    def tokenize(self, text: str) -> list[str]:
        words: list[str] = self._mecab(text).split()
        return words


@cache
def _rouge() -> RougeScorer:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rouge1", "rouge2", "rougeLsum"], tokenizer=_MecabWords())


def _sentences_per_line(text: str) -> str:
    return "\n".join(s.strip() for s in _SENTENCE.findall(text.replace("\n", "")) if s.strip())


def _rouge_f(kind: str, prediction: str, gold: str) -> float:
    scores = _rouge().score(_sentences_per_line(gold), _sentences_per_line(prediction))
    return float(scores[kind].fmeasure)


def rouge1(prediction: str, gold: str) -> float:
    return _rouge_f("rouge1", prediction, gold)


def rouge2(prediction: str, gold: str) -> float:
    return _rouge_f("rouge2", prediction, gold)


def rouge_lsum(prediction: str, gold: str) -> float:
    return _rouge_f("rougeLsum", prediction, gold)
