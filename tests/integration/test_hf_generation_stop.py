"""HFScorer.generate stops as llm-jp-eval reads: at the first blank line of the generated text.

llm-jp-eval generates, then keeps the generated text before its first blank line. kiseki's
prompts end in "### 応答:\\n", so a stop rule that also reads the prompt ends an answer that
starts with a newline at once, empty. The model here is a real GPT-2 whose greedy
continuations are set in its weights (support.scripted_gpt), so each case is certain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.prompts import build_prompt
from kiseki.serving.hf_scoring import HFScorer
from support.scripted_gpt import scripted_checkpoint

MAX_NEW_TOKENS = 24
DATASET = Dataset("sounds", "動物の鳴き声を答えてください。", MAX_NEW_TOKENS, ("exact_match",), ())
# Greedy continuation of each prompt: a leading newline, the answer, a blank line, more text.
# The inputs grow by 30 numbers (30 tokens), so the prompts pad differently in a batch and
# their continuations sit at positions of their own in the scripted model.
CONTINUATIONS = {
    "犬": "\nわん\n\nbar",
    "猫": "\nにゃーにゃー、にゃー。\n\n### 入力:\n",
    "鳥": "\n\nぴよ",  # the blank line comes first: llm-jp-eval reads ""
    "牛": "\nもーもーもーもーもーもーもーもーもーもーもーもー",  # no blank line in the budget
}


def _prompt(animal: str) -> str:
    count = 30 * list(CONTINUATIONS).index(animal)
    numbers = "".join(f" {n}" for n in range(1, count + 1))
    return build_prompt(DATASET, Sample(animal + numbers, ""), [])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scripts = {_prompt(animal): text for animal, text in CONTINUATIONS.items()}
    return scripted_checkpoint(tmp_path_factory.mktemp("scripted"), scripts)


def _llm_jp_eval(checkpoint: Path, prompt: str) -> tuple[str, int]:
    """Unrestricted greedy generation of the prompt alone, cut before its first blank line;
    and how many tokens were generated when the blank line appeared (the budget if never)."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = GPT2LMHeadModel.from_pretrained(checkpoint)  # loads in eval mode
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():  # transformers' stubs bind generate's self to a mixin
        output = model.generate(  # type: ignore[misc]
            **ids, do_sample=False, max_new_tokens=MAX_NEW_TOKENS, pad_token_id=0
        )
    new = output[0, ids["input_ids"].shape[1] :].tolist()
    assert len(new) == MAX_NEW_TOKENS  # nothing stopped it early
    steps = next(
        (n for n in range(1, len(new) + 1) if "\n\n" in tokenizer.decode(new[:n])), len(new)
    )
    text = str(tokenizer.decode(new, skip_special_tokens=True))
    return text.split("\n\n", 1)[0], steps


def _generate_counting_forwards(scorer: HFScorer, prompts: list[str]) -> tuple[list[str], int]:
    calls = []
    hook = scorer.model.register_forward_hook(lambda *_: calls.append(1))
    try:
        texts = scorer.generate(prompts, MAX_NEW_TOKENS)
    finally:
        hook.remove()
    return texts, len(calls)


def test_an_answer_that_starts_with_a_newline_is_kept(checkpoint: Path) -> None:
    prompt = _prompt("犬")
    assert prompt.endswith("### 応答:\n")
    expected, steps = _llm_jp_eval(checkpoint, prompt)
    assert expected == "\nわん"
    texts, forwards = _generate_counting_forwards(HFScorer(checkpoint, device="cpu"), [prompt])
    assert texts == [expected]
    assert forwards == steps < MAX_NEW_TOKENS  # it stopped at the blank line, not the budget


def test_batch_rows_stop_independently(checkpoint: Path) -> None:
    scorer = HFScorer(checkpoint, device="cpu")
    prompts = [_prompt(animal) for animal in CONTINUATIONS]
    assert len({len(scorer.tokenizer.encode(p)) for p in prompts}) == len(prompts)  # padded
    expected = [_llm_jp_eval(checkpoint, prompt) for prompt in prompts]
    assert [text for text, _ in expected[:3]] == ["\nわん", "\nにゃーにゃー、にゃー。", ""]
    assert expected[3][0].startswith(CONTINUATIONS["牛"])
    texts, forwards = _generate_counting_forwards(scorer, prompts)
    assert texts == [text for text, _ in expected]
    assert forwards == MAX_NEW_TOKENS  # the row without a blank line runs to the budget
    stopping = prompts[:3]
    texts, forwards = _generate_counting_forwards(scorer, stopping)
    assert texts == [text for text, _ in expected[:3]]
    assert forwards == max(steps for _, steps in expected[:3]) < MAX_NEW_TOKENS
