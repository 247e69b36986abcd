"""Which datasets make up which category, and how category scores and AVG are formed.

The default is llm-jp-eval v1.4.1's map with each dataset's main metric; a user's own map is
a JSON file {"CATEGORY": {"dataset": "metric", ...}, ...}. A category is the mean of its
datasets that are present; AVG is the mean of the categories that have any.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

CategoryMap = Mapping[str, Mapping[str, str]]

V141_CATEGORIES: CategoryMap = {
    "NLI": {d: "exact_match" for d in ("jamp", "janli", "jnli", "jsem", "jsick")},
    "QA": {d: "char_f1" for d in ("jemhopqa", "niilc", "aio")},
    "RC": {"jsquad": "char_f1"},
    "MC": {d: "exact_match" for d in ("jcommonsenseqa", "commonsensemoralja", "kuci")},
    "HE": {"mmlu_en": "exact_match", "jmmlu": "exact_match"},
    "EL": {"chabsa": "set_f1"},
    "FA": {
        "wiki_reading": "char_f1",
        **{d: "set_f1" for d in ("wiki_ner", "wiki_dependency", "wiki_pas", "wiki_coreference")},
    },
    "MR": {"mawps": "exact_match"},
    "MT": {
        d: "comet_wmt22"
        for d in ("alt-e-to-j", "alt-j-to-e", "wikicorpus-e-to-j", "wikicorpus-j-to-e")
    },
    "CG": {"mbpp": "code_exec"},
    "SUM": {"xlsum_ja": "rouge2"},
}


class CategoryMapError(ValueError):
    pass


def suite_datasets(categories: CategoryMap = V141_CATEGORIES) -> list[str]:
    """Every dataset a category map names, in map order."""
    return [name for members in categories.values() for name in members]


def load_category_map(path: Path) -> CategoryMap:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CategoryMapError(f"{path}: {error}") from None
    valid = (
        isinstance(raw, dict)
        and bool(raw)
        and all(
            isinstance(datasets, dict) and all(isinstance(m, str) for m in datasets.values())
            for datasets in raw.values()
        )
    )
    if not valid:
        raise CategoryMapError(f'{path}: expected {{"CATEGORY": {{"dataset": "metric"}}}}')
    return raw  # type: ignore[no-any-return]


def aggregate(
    dataset_scores: Mapping[str, Mapping[str, float]], categories: CategoryMap = V141_CATEGORIES
) -> dict[str, float]:
    """Category means and AVG from {dataset: {metric: score}}."""
    result: dict[str, float] = {}
    for category, members in categories.items():
        present = [
            dataset_scores[d][metric]
            for d, metric in members.items()
            if metric in dataset_scores.get(d, {})
        ]
        if present:
            result[category] = sum(present) / len(present)
    if result:
        result["AVG"] = sum(result.values()) / len(result)
    return result


aggregate_categories = aggregate
