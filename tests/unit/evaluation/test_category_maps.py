"""The store's category map comes from the evaluation core's maps, v1.4.1 first."""

from kiseki.evaluation.category_maps import DEFAULT_CATEGORIES, category_rows, merged
from kiseki.evaluation.registry import V141_CATEGORIES


def test_default_map_keeps_v141_and_adds_the_synthetic_suites() -> None:
    for category, members in V141_CATEGORIES.items():
        assert DEFAULT_CATEGORIES[category].items() >= members.items()
    assert DEFAULT_CATEGORIES["NLI"]["synth_nli"] == "exact_match"
    assert DEFAULT_CATEGORIES["MR"]["synth_arith"] == "exact_match"


def test_a_dataset_named_twice_keeps_its_first_category() -> None:
    assert merged({"A": {"d": "m1"}}, {"B": {"d": "m2", "e": "m3"}}) == {
        "A": {"d": "m1"},
        "B": {"e": "m3"},
    }


def test_rows_list_each_dataset_once() -> None:
    rows = category_rows()
    datasets = [r["dataset"] for r in rows]
    assert len(datasets) == len(set(datasets))
    assert {"category": "RC", "dataset": "jsquad", "metric": "char_f1"} in rows
