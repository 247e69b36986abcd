import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.postprocess import normalize_gold, postprocess
from kiseki.evaluation.prompts import V1_HEADER, TemplateError, build_prompt

DATASET = Dataset("d", "指示文", 4, ("exact_match",), ())
TAGGED = Dataset("t", "i", 3, ("exact_match",), (), answer_pattern_id="answer_tags_jp")


def test_v1_template_byte_for_byte() -> None:
    prompt = build_prompt(DATASET, Sample("問い", "?"), [Sample("例1", "答1")])
    assert prompt == (
        "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。"
        "\n\n### 指示:\n指示文"
        "\n\n### 入力:\n例1\n\n### 応答:\n答1"
        "\n\n### 入力:\n問い\n\n### 応答:\n"
    )
    assert build_prompt(DATASET, Sample("問い", "?"), []).endswith(
        "指示文\n\n### 入力:\n問い\n\n### 応答:\n"
    )


def test_v2_template_with_answer_pattern() -> None:
    prompt = build_prompt(TAGGED, Sample("問", "?"), [Sample("例", "a")], "v2")
    assert prompt == (
        "### 指示\ni\n### 回答形式\n<answer></answer>タグで囲んで回答してください。\n"
        "<examples>\n<example_1>\n### 入力:\n例\n### 応答:\na\n</example_1>\n</examples>\n"
        "### 入力:\n問\n### 応答:"
    )
    assert (
        build_prompt(DATASET, Sample("問", "?"), [], "v2")
        == "### 指示\n指示文\n### 入力:\n問\n### 応答:"
    )


def test_custom_template_in_llm_jp_eval_v1_form_puts_the_shots_in_the_instruction() -> None:
    """llm-jp-eval v1 fills {instruction} with the instruction followed by the examples: its
    default template written as a custom one gives the default prompt, byte for byte."""
    shots = [Sample("例", "a"), Sample("例2", "b")]
    template = V1_HEADER + "\n\n### 入力:\n{input}\n\n### 応答:\n"
    custom = build_prompt(DATASET, Sample("問", "?"), shots, custom=template)
    assert custom == build_prompt(DATASET, Sample("問", "?"), shots)


def test_custom_templates_with_few_shots_text_and_braces_kept() -> None:
    shots = [Sample('{"k": 1}', "{x}"), Sample("例2", "b")]
    custom = build_prompt(
        DATASET,
        Sample("問 {input}", "?"),
        shots,
        custom="{instruction}|{few_shots_text}|Q: {input}",
        custom_fewshots="<{input}={output}>",
    )
    assert custom == '指示文|<{"k": 1}={x}><例2=b>|Q: 問 {input}'
    with pytest.raises(TemplateError, match="must hold"):
        build_prompt(DATASET, Sample("問", "?"), [], custom="{instruction} only")
    with pytest.raises(TemplateError, match="custom_prompt_template"):
        build_prompt(DATASET, Sample("問", "?"), [], custom="{question} {input}")
    with pytest.raises(TemplateError, match="unknown prompt template"):
        build_prompt(DATASET, Sample("問", "?"), [], "v3")


@pytest.mark.parametrize(
    ("mode", "raw", "expected"),
    [
        ("llm-jp-eval-1.3", "１２３ \n\n続き", "123 "),  # NFKC, cut at the blank line, no strip
        ("llm-jp-eval-1.3", "答え\n次の行", "答え\n次の行"),  # a single newline is kept
        ("llm-jp-eval-1.3", "\n\n答え", ""),
        ("llm-jp-eval-1.3", "ｶﾀｶﾅ", "カタカナ"),  # half-width kana to full-width
        ("llm-jp-eval-1.4", "ＡＢ\n\nC", "AB"),
        ("llm-jp-eval-1.4", "答え", "答え"),  # no blank line: up to the end
        ("none", "ＡＢ\n\nC", "ＡＢ\n\nC"),
        ("v2:answer_tags_jp", "考え中…<answer>４２</answer>", "42"),
        ("v2:answer_tags_jp", "no tags", ""),
        ("v2:latex_boxed_en", "so \\boxed{\\frac{3}{4}}.", "\\frac{3}{4}"),
        ("v2:code_output_en", "```python\nprint(1)\n```", "print(1)"),
        ("v2:json_output_jp", '```json\n{"a": 1}\n```', '{"a": 1}'),
        ("v2:choice_only_jp", " B\n理由", "B"),
    ],
)
def test_postprocess_modes(mode: str, raw: str, expected: str) -> None:
    assert postprocess(raw, mode) == expected


def test_extract_patterns_from_the_dataset() -> None:
    assert postprocess("答えは【42】です", "llm-jp-eval-1.4", r"【(.*?)】") == "42"
    assert postprocess("答えは42です", "llm-jp-eval-1.4", r"\d+") == "42"  # no group: the match
    assert postprocess("答えなし", "llm-jp-eval-1.4", r"【(.*?)】") == ""
    assert postprocess("<answer> b </answer>", "v2", answer_pattern_id="answer_tags_en") == "b"
    assert postprocess("x【y】", "v2", r"【(.*?)】", answer_pattern_id="custom") == "y"


def test_unknown_modes_and_patterns() -> None:
    with pytest.raises(ValueError, match="unknown post-processing mode"):
        postprocess("x", "v9")
    with pytest.raises(ValueError, match="unknown answer pattern"):
        postprocess("x", "v2:nope")


def test_golds_are_normalised_unless_mode_is_none() -> None:
    assert normalize_gold("１", "llm-jp-eval-1.3") == "1"
    assert normalize_gold("１", "none") == "１"


@given(st.text(alphabet="ab\n ＡＢ", max_size=30))
def test_v13_answers_never_hold_a_blank_line(raw: str) -> None:
    answer = postprocess(raw, "llm-jp-eval-1.3")
    assert "\n\n" not in answer
    assert postprocess(raw, "llm-jp-eval-1.4") == answer  # the same text by default
