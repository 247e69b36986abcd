"""The demo's pretraining corpus: plain text mixed with the synthetic tasks' formats.

Task documents are built with the same prompt template the evaluation uses, from samples
drawn with other seeds than the test split, so the model can learn the formats (and some
of the answers) without ever seeing a test sample.

`demo_schedule` is a data schedule, as real pretraining mixes change over training (data
added in an annealing phase, a source whose labels were cleaned late), designed so that the
study's three shapes occur in generation mode on the log-token axis:

- entity listing (FA), multiple choice (MC) and arithmetic (MR) are in the mix from the start
  with consistent answers, meant to rise gradually as more items are learned (at the demo's
  sizes and 1,000 steps they stayed flat; AVG, which they dilute, rose gradually);
- QA is in the mix from the start, but until `QA_CONSISTENT_FROM` each of its documents gives
  its first example's answer to every question (a source whose answers are unusable): the
  model learns the answer's format and a constant answer, which scores the majority baseline
  (any one colour scores about it under char_f1); from that step the documents answer their
  questions, and the score leaves the baseline (two-stage);
- NLI documents enter the mix only at `NLI_FROM` (late-emerging).
"""

from __future__ import annotations

import random

from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.prompts import build_prompt
from kiseki.evaluation.synthetic import SPECS
from tinygpt.train import Phase

PLAIN = [
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
    "春はあけぼの。やうやう白くなりゆく山ぎは、すこしあかりて、紫だちたる雲のほそくたなびきたる。",
    "The quick brown fox jumps over the lazy dog.",
    "A language model learns to predict the next token from the ones before it.",
]
SHOTS = 2  # examples per task document, as many as the demo's policy gives each prompt
# Steps of the demo's data schedule (see the module's docstring).
QA_CONSISTENT_FROM = 400
NLI_FROM = 250


def _dataset(name: str) -> Dataset:
    spec = SPECS[name]
    return Dataset(name, spec["instruction"], spec["output_length"], tuple(spec["metrics"]), ())


def task_documents(per_task: int, seed: int = 1234) -> list[str]:
    rng = random.Random(seed)
    documents = []
    for name, spec in SPECS.items():
        dataset = _dataset(name)
        samples = [Sample(*spec["make"](rng)) for _ in range(per_task)]
        for index, sample in enumerate(samples):
            shots = samples[max(0, index - 2) : index]
            documents.append(build_prompt(dataset, sample, shots) + sample.output + "\n\n")
    return documents


def demo_corpus(per_task: int = 400) -> list[str]:
    documents = task_documents(per_task) + PLAIN * 50
    random.Random(0).shuffle(documents)
    return documents


def documents_of(name: str, count: int, seed: int, repeat_answer: bool = False) -> list[str]:
    """`count` documents of one task, each SHOTS examples and a question with its answer; with
    `repeat_answer` every answer of a document is its first example's."""
    rng = random.Random(f"{name}-corpus-{seed}")
    spec, dataset = SPECS[name], _dataset(name)
    documents = []
    for _ in range(count):
        samples = [Sample(*spec["make"](rng)) for _ in range(SHOTS + 1)]
        if repeat_answer:
            samples = [Sample(s.input, samples[0].output) for s in samples]
        *shots, question = samples
        documents.append(build_prompt(dataset, question, shots) + question.output + "\n\n")
    return documents


def _shuffled(documents: list[str]) -> tuple[str, ...]:
    random.Random(0).shuffle(documents)
    return tuple(documents)


def demo_schedule() -> list[Phase]:
    """The demo's data schedule (see the module's docstring)."""
    always = [
        *documents_of("synth_ner", 400, 1),
        *documents_of("synth_mc", 400, 1),
        *documents_of("synth_arith", 200, 1),
    ]
    return [
        Phase(_shuffled(always + PLAIN * 50)),
        Phase(_shuffled(documents_of("synth_qa", 2400, 1, True)), stop=QA_CONSISTENT_FROM),
        Phase(_shuffled(documents_of("synth_qa", 2400, 2)), start=QA_CONSISTENT_FROM),
        Phase(_shuffled(documents_of("synth_nli", 2000, 1)), start=NLI_FROM),
    ]
