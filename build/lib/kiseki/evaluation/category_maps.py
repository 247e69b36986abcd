"""The category map the store uses: llm-jp-eval v1.4.1's, plus the bundled synthetic suites.

The synthetic datasets (datasets/synthetic) join the v1.4.1 categories whose kind of task
they imitate, so the demo's trajectories have categories like a real run's. This map is the
single source of the store's `categories` table (written by the schema at every start).
"""

from __future__ import annotations

from kiseki.evaluation.registry import V141_CATEGORIES, CategoryMap

SYNTHETIC_CATEGORIES: CategoryMap = {
    "NLI": {"synth_nli": "exact_match"},
    "QA": {"synth_qa": "char_f1"},
    "MC": {"synth_mc": "exact_match"},
    "MR": {"synth_arith": "exact_match"},
    "FA": {"synth_ner": "set_f1"},
    "MT": {"synth_mt": "bleu_en"},
}


def merged(*maps: CategoryMap) -> dict[str, dict[str, str]]:
    """One map from several; a dataset named twice keeps its first category."""
    result: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for category_map in maps:
        for category, members in category_map.items():
            for dataset, metric in members.items():
                if dataset not in seen:
                    seen.add(dataset)
                    result.setdefault(category, {})[dataset] = metric
    return result


DEFAULT_CATEGORIES: CategoryMap = merged(V141_CATEGORIES, SYNTHETIC_CATEGORIES)


def category_rows(categories: CategoryMap = DEFAULT_CATEGORIES) -> list[dict[str, str]]:
    """The map as rows of the store's `categories` table."""
    return [
        {"category": category, "dataset": dataset, "metric": metric}
        for category, members in categories.items()
        for dataset, metric in members.items()
    ]
