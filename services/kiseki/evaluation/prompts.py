"""Prompts as llm-jp-eval builds them.

- `v1` (default): llm-jp-eval v1.x's template, byte for byte: the fixed preamble, the
  instruction, each few-shot example as an input/response pair, then the query;
- `v2`: the layout of llm-jp-eval v2's Japanese template (instruction, answer format from the
  dataset's answer_pattern_id, few-shots inside <examples>, then the input);
- a custom template, as llm-jp-eval's `custom_prompt_template`: a format string with
  {instruction} and {input}, and {few_shots_text} where the examples go; without that field
  the examples follow the instruction inside {instruction}, as llm-jp-eval v1 places them.
  Each example is `custom_fewshots_template` ({input}, {output}) or v1's input/response
  pair. {answer_pattern} (the v2 answer instruction) may be used too. Text holding braces
  (inputs, outputs, the instruction) is kept as it is: llm-jp-eval escapes the braces of
  few-shot inputs for its second formatting pass, so its prompts hold them literally too.
The few-shot count is the caller's (`datasets.few_shot_examples`, 4 by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.postprocess import ANSWER_PATTERNS

V1_HEADER = (
    "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。"
    "要求を適切に満たす応答を書きなさい。\n\n### 指示:\n{instruction}"
)
V1_EXAMPLE = "\n\n### 入力:\n{input}\n\n### 応答:\n{output}"
V1_QUERY = "\n\n### 入力:\n{input}\n\n### 応答:\n"
TEMPLATES = ("v1", "v2")


class TemplateError(ValueError):
    pass


def build_prompt(
    dataset: Dataset,
    sample: Sample,
    few_shots: Sequence[Sample],
    template: str = "v1",
    custom: str = "",
    custom_fewshots: str = "",
) -> str:
    if custom:
        return build_prompt_custom(custom, dataset, sample, few_shots, custom_fewshots)
    if template == "v1":
        return build_prompt_v1(dataset, sample, few_shots)
    if template == "v2":
        return build_prompt_v2(dataset, sample, few_shots, answer_instruction(dataset))
    raise TemplateError(f"unknown prompt template {template!r}; expected one of {TEMPLATES}")


def build_prompt_v1(dataset: Dataset, sample: Sample, few_shots: Sequence[Sample]) -> str:
    parts = [V1_HEADER.format(instruction=dataset.instruction)]
    parts.extend(V1_EXAMPLE.format(input=s.input, output=s.output) for s in few_shots)
    parts.append(V1_QUERY.format(input=sample.input))
    return "".join(parts)


def answer_instruction(dataset: Dataset) -> str:
    pattern = ANSWER_PATTERNS.get(dataset.answer_pattern_id)
    return pattern.instruction if pattern else ""


def build_prompt_v2(
    dataset: Dataset, sample: Sample, few_shots: Sequence[Sample], answer_pattern: str = ""
) -> str:
    parts = []
    if dataset.instruction:
        parts.append(f"### 指示\n{dataset.instruction}")
    if answer_pattern:
        parts.append(f"### 回答形式\n{answer_pattern}")
    if few_shots:
        examples = "".join(
            f"\n<example_{i}>\n### 入力:\n{s.input}\n### 応答:\n{s.output}\n</example_{i}>"
            for i, s in enumerate(few_shots, start=1)
        )
        parts.append(f"<examples>{examples}\n</examples>")
    parts.append(f"### 入力:\n{sample.input}\n### 応答:")
    return "\n".join(parts)


def _fill(template: str, where: str, **fields: str) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as error:
        raise TemplateError(
            f"{where}: {error!r}; its fields are {', '.join('{' + f + '}' for f in fields)}"
        ) from None


def build_prompt_custom(
    template: str,
    dataset: Dataset,
    sample: Sample,
    few_shots: Sequence[Sample],
    fewshots_template: str = "",
) -> str:
    if "{input}" not in template:
        raise TemplateError("custom_prompt_template: it must hold {input}")
    example = fewshots_template or V1_EXAMPLE
    shots = "".join(
        _fill(example, "custom_fewshots_template", input=s.input, output=s.output)
        for s in few_shots
    )
    inline = "{few_shots_text}" in template
    return _fill(
        template,
        "custom_prompt_template",
        instruction=dataset.instruction if inline else dataset.instruction + shots,
        few_shots_text=shots,
        input=sample.input,
        answer_pattern=answer_instruction(dataset),
    )
