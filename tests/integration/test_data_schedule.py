"""The tiny GPT's data schedule and the demo's corpus: which documents are in the mix at each
step, what the scheduled documents answer, and how the demo's tokenizer cuts a prompt."""

import re

import pytest
import torch

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.prompts import build_prompt
from tinygpt.corpus import NLI_FROM, QA_CONSISTENT_FROM, demo_schedule
from tinygpt.model import build_tokenizer
from tinygpt.train import Phase, _mixes, _schedule


def test_each_step_draws_from_the_phases_active_then() -> None:
    phases = [Phase(("a",)), Phase(("b",), start=2), Phase(("c",), stop=3)]
    streams = [torch.tensor([1]), torch.tensor([2]), torch.tensor([3])]
    mixes = _mixes(phases, streams, 5)
    assert [sorted(m.tolist()) for m in mixes] == [[1, 3], [1, 3], [1, 2, 3], [1, 2], [1, 2]]


def test_plain_documents_are_one_phase_and_mixing_both_is_refused() -> None:
    assert _schedule(["x", "y"]) == [Phase(("x", "y"))]
    mixed: list[str | Phase] = ["x", Phase(("y",))]
    with pytest.raises(TypeError, match="not both"):
        _schedule(mixed)  # type: ignore[arg-type]


def _qa_answers(document: str) -> list[tuple[str, str]]:
    """(colour asked about, answer given) for each QA item of a document."""
    return re.findall(r"(.)い.の色は何ですか？\n\n### 応答:\n(.)色", document)


def test_qa_answers_become_consistent_and_nli_enters_late() -> None:
    schedule = demo_schedule()
    qa = [p for p in schedule if "色は何ですか" in p.documents[0]]
    early = next(p for p in qa if p.stop == QA_CONSISTENT_FROM)
    later = next(p for p in qa if p.start == QA_CONSISTENT_FROM)
    assert early.start == 0
    for document in early.documents[:50]:
        assert len({answer for _, answer in _qa_answers(document)}) == 1
    mismatched = sum(asked != answer for d in early.documents for asked, answer in _qa_answers(d))
    assert mismatched > len(early.documents)  # the answers do not follow the questions
    assert all(asked == answer for d in later.documents for asked, answer in _qa_answers(d))
    [nli] = [p for p in schedule if "仮説" in p.documents[0]]
    assert nli.start == NLI_FROM
    assert not nli.active(NLI_FROM - 1)


def test_the_demo_tokenizer_keeps_the_answer_line_apart() -> None:
    documents = [d for phase in demo_schedule() for d in phase.documents]
    tokenizer = build_tokenizer(documents, split_words=False)
    dataset = Dataset("synth_mc", "番号を出力してください。", 2, ("exact_match",), ())
    prompt = build_prompt(dataset, Sample("質問：「犬」と同じ動物はどれ？", "0"), [])
    tokens = tokenizer.tokenize(prompt)
    assert tokenizer.tokenize(prompt + "0\n\n")[: len(tokens)] == tokens  # a new token
    assert tokenizer.convert_tokens_to_string(tokens[-1:]) == "### 応答:\n"  # the whole line
    words_split = build_tokenizer(documents)
    assert words_split.convert_tokens_to_string(words_split.tokenize(prompt)[-1:]) == "\n"
