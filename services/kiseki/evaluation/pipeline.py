"""The one scoring pipeline: from a dataset and its settings to prompts, and from a model's
outputs to per-sample values and dataset scores.

The runner (outputs streaming back from an endpoint), `eval-offline` (outputs recorded in a
file) and the benchmarks all go through a `Task`; only how the outputs are obtained differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kiseki.evaluation.baselines import format_check
from kiseki.evaluation.datasets import Dataset, Sample, few_shot_examples, load_dataset
from kiseki.evaluation.loglikelihood import (
    choice_requests,
    choice_scores,
    chosen_label,
    dataset_choices,
    gold_scores,
)
from kiseki.evaluation.metrics import DATASET_LEVEL, dataset_scores, require_plugins, score_samples
from kiseki.evaluation.postprocess import normalize_gold, postprocess
from kiseki.evaluation.prompts import build_prompt
from kiseki.evaluation.settings import EvalSettings

PLACEHOLDER = "\x00input\x00"  # stands for every sample's input in the prompt digest


@dataclass(frozen=True)
class Scored:
    """One generated sample after post-processing and its per-sample metrics."""

    prediction: str
    metrics: dict[str, float]
    followed: bool


@dataclass(frozen=True)
class Task:
    dataset: Dataset  # the split the settings name
    settings: EvalSettings
    few_shots: tuple[Sample, ...]

    @property
    def samples(self) -> tuple[Sample, ...]:
        """The first `max_num_samples` of the split (all for -1), as llm-jp-eval takes them."""
        limit = self.settings.max_num_samples
        return self.dataset.samples if limit < 0 else self.dataset.samples[:limit]

    @property
    def max_new_tokens(self) -> int:
        return max(1, self.dataset.output_length + self.settings.output_length_delta)

    def prompt(self, sample: Sample) -> str:
        settings = self.settings
        return build_prompt(
            self.dataset,
            sample,
            self.few_shots,
            settings.prompt_template,
            settings.custom_prompt_template,
            settings.custom_fewshots_template,
        )

    def prompt_digest(self) -> str:
        """A short hash of the prompt around the input (template, instruction, few-shots)."""
        return hashlib.sha256(self.prompt(Sample(PLACEHOLDER, "")).encode()).hexdigest()[:16]

    def gold(self, sample: Sample) -> str:
        return normalize_gold(sample.output, self.settings.postprocess)

    def predict(self, raw: str) -> str:
        settings, dataset = self.settings, self.dataset
        pattern = settings.answer_extract_pattern or dataset.answer_extract_pattern
        if settings.postprocess == "llm-jp-eval-1.4":
            pattern = pattern or settings.default_answer_extract_pattern
        pattern_id = settings.answer_pattern_id or dataset.answer_pattern_id
        return postprocess(raw, settings.postprocess, pattern, pattern_id)

    def score_generated(
        self, raws: Sequence[str], golds: Sequence[str], sources: Sequence[str]
    ) -> list[Scored]:
        """Per-sample values of a part of the samples (dataset-level metrics come at the end)."""
        predictions = [self.predict(raw) for raw in raws]
        names = [name for name in self.dataset.metrics if name not in DATASET_LEVEL]
        values, _ = score_samples(names, predictions, golds, sources)
        follows = format_check(self.dataset)
        return [
            Scored(prediction, metrics, follows(prediction))
            for prediction, metrics in zip(predictions, values, strict=True)
        ]

    def generation_scores(self, scored: Sequence[Scored], golds: Sequence[str]) -> dict[str, float]:
        """The dataset's scores from every sample's values, and the format-following rate."""
        predictions = [s.prediction for s in scored]
        scores = dataset_scores(
            self.dataset.metrics, [s.metrics for s in scored], predictions, golds
        )
        scores["format_following"] = sum(s.followed for s in scored) / max(1, len(scored))
        return scores

    def gold_request(self, prompt: str, sample: Sample) -> tuple[str, str]:
        """The prompt and the gold answer as the model would have to write it (raw)."""
        return prompt, sample.output

    def score_gold(self, logprob: float, sample: Sample) -> dict[str, float]:
        return gold_scores(logprob, sample.output)

    @property
    def choices(self) -> tuple[str, ...]:
        """The labels log-likelihood scores (NoChoices for a dataset without any)."""
        return dataset_choices(self.dataset)

    def choice_requests(self, prompt: str) -> list[tuple[str, str]]:
        return choice_requests(prompt, self.choices)

    def score_choices(self, logprobs: Sequence[float], gold: str) -> tuple[str, dict[str, float]]:
        """The chosen label and acc / acc_norm of one sample from its per-label log-probs."""
        labels = self.choices
        return chosen_label(logprobs, labels), choice_scores(logprobs, labels, gold)


def load_task(root: Path, name: str, settings: EvalSettings) -> Task:
    """The dataset's split and few-shot examples under `settings` (DatasetError when a file
    is missing or malformed; MetricUnavailable when a metric cannot be computed here)."""
    dataset = load_dataset(root, name, settings.data_type)
    require_plugins(dataset.metrics)
    return Task(dataset, settings, few_shot_examples(root, name, settings.shots(dataset)))


def score_recorded(task: Task, raws: Sequence[str]) -> tuple[list[Scored], dict[str, float]]:
    """Every sample's values and the dataset's scores from outputs already generated."""
    samples = task.samples
    if len(raws) != len(samples):
        raise ValueError(f"{len(raws)} outputs for {len(samples)} samples")
    golds = [task.gold(s) for s in samples]
    scored = task.score_generated(raws, golds, [s.input for s in samples])
    return scored, task.generation_scores(scored, golds)
