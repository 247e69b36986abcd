"""Turning a raw generation into the answer a metric compares with the gold.

Modes:
- `llm-jp-eval-1.3`: the text before the first blank line, NFKC-normalised, not stripped;
- `llm-jp-eval-1.4`: the first group of an extract pattern (the dataset's
  `answer_extract_pattern`, else `(?s)^(.*?)(?=\\n\\n|\\Z)`), or the whole match when the pattern
  has no group, NFKC; no match gives "";
- `v2`: the answer pattern named by the dataset's `answer_pattern_id` (`v2:<id>` names one),
  modelled on llm-jp-eval v2's answer patterns; `custom` uses the dataset's extract pattern;
  the answer is stripped and NFKC-normalised, no match gives "";
- `none`: the generation as it is.
Golds are NFKC-normalised in every mode but `none` (`normalize_gold`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

V14_DEFAULT_PATTERN = r"(?s)^(.*?)(?=\n\n|\Z)"


@dataclass(frozen=True)
class AnswerPattern:
    instruction: str  # what the v2 prompt tells the model about the answer's form
    extract: str  # regex whose first group is the answer


_TAGS = r"(?s)<answer>(.*?)</answer>"
_BOXED = r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}"
_JSON = r"(?s)```json\s*(.*?)\s*```"
_CODE = r"(?s)```(?:[\w+-]*)\s*\n(.*?)```"
_CHOICE = r"(?s)^\s*(.*?)(?=\n|\Z)"
ANSWER_PATTERNS: dict[str, AnswerPattern] = {
    "answer_tags_jp": AnswerPattern("<answer></answer>タグで囲んで回答してください。", _TAGS),
    "answer_tags_en": AnswerPattern("Enclose your answer in <answer></answer> tags.", _TAGS),
    "choice_only_jp": AnswerPattern("選択肢の中から回答のみを出力してください。", _CHOICE),
    "choice_only_en": AnswerPattern("Answer with the choice only.", _CHOICE),
    "latex_boxed_jp": AnswerPattern("最終的な答えを$\\boxed{}$で囲んで回答してください。", _BOXED),
    "latex_boxed_en": AnswerPattern("Put your final answer in $\\boxed{}$.", _BOXED),
    "json_output_jp": AnswerPattern("```json```で囲んだJSON形式で回答してください。", _JSON),
    "json_output_en": AnswerPattern("Answer in JSON, enclosed in ```json```.", _JSON),
    "code_output_jp": AnswerPattern("コードを```で囲んで回答してください。", _CODE),
    "code_output_en": AnswerPattern("Enclose your code in ```.", _CODE),
}
POSTPROCESS_MODES = (
    "llm-jp-eval-1.3",
    "llm-jp-eval-1.4",
    "v2",
    "none",
    *(f"v2:{n}" for n in ANSWER_PATTERNS),
)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def normalize_gold(gold: str, mode: str) -> str:
    return gold if mode == "none" else normalize(gold)


def _first_group(pattern: str, raw: str) -> str | None:
    match = re.search(pattern, raw)
    if match is None:
        return None
    return match.group(1) if match.groups() else match.group(0)


def _v2(raw: str, pattern_id: str, custom_pattern: str) -> str:
    if pattern_id in ("", "custom"):
        answer = _first_group(custom_pattern or V14_DEFAULT_PATTERN, raw)
    elif pattern_id in ANSWER_PATTERNS:
        answer = _first_group(ANSWER_PATTERNS[pattern_id].extract, raw)
    else:
        raise ValueError(f"unknown answer pattern {pattern_id!r}; known {sorted(ANSWER_PATTERNS)}")
    return "" if answer is None else normalize(answer.strip())


def postprocess(
    raw: str, mode: str = "llm-jp-eval-1.3", pattern: str = "", answer_pattern_id: str = ""
) -> str:
    """`pattern` is the dataset's answer_extract_pattern, `answer_pattern_id` its v2 pattern."""
    if mode == "llm-jp-eval-1.3":
        return normalize(raw.split("\n\n", 1)[0])
    if mode == "llm-jp-eval-1.4":
        answer = _first_group(pattern or V14_DEFAULT_PATTERN, raw)
        return "" if answer is None else normalize(answer)
    if mode == "v2":
        return _v2(raw, answer_pattern_id, pattern)
    if mode.startswith("v2:"):
        return _v2(raw, mode[3:], pattern)
    if mode == "none":
        return raw
    raise ValueError(f"unknown post-processing mode {mode!r}; expected one of {POSTPROCESS_MODES}")
