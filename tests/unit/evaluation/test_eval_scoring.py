import json
from pathlib import Path

import pytest

from kiseki.evaluation.baselines import (
    format_check,
    format_following_rate,
    majority_baseline,
    majority_label,
)
from kiseki.evaluation.datasets import Dataset, Sample
from kiseki.evaluation.loglikelihood import (
    NoChoices,
    choice_requests,
    choice_scores,
    chosen_label,
    dataset_choices,
)
from kiseki.evaluation.metrics import UnknownMetric, dataset_scores, score_samples
from kiseki.evaluation.registry import (
    V141_CATEGORIES,
    CategoryMapError,
    aggregate_categories,
    load_category_map,
    suite_datasets,
)

NLI = Dataset(
    "jnli",
    "i",
    3,
    ("exact_match",),
    tuple(Sample(str(i), o) for i, o in enumerate("aabab")),
    ("a", "b"),
)


def test_score_samples_gives_per_sample_values_and_means() -> None:
    per_sample, scores = score_samples(
        ["exact_match", "char_f1"], ["東京", "大阪"], ["東京", "大阪府"]
    )
    assert per_sample == [
        {"exact_match": 1.0, "char_f1": 1.0},
        {"exact_match": 0.0, "char_f1": 0.8},  # 大阪/大阪府: 2 * 2 / (2 + 3)
    ]
    assert scores == {"exact_match": 0.5, "char_f1": pytest.approx(0.9)}


def test_dataset_level_metrics_have_no_per_sample_value() -> None:
    per_sample, scores = score_samples(["exact_match", "pearson"], ["1", "2", "3"], ["1", "2", "4"])
    assert per_sample[0] == {"exact_match": 1.0}
    assert scores["exact_match"] == pytest.approx(2 / 3)
    assert scores["pearson"] == pytest.approx(0.9819805)


def test_score_samples_errors_and_empty_datasets() -> None:
    with pytest.raises(UnknownMetric, match="bleu_zz"):
        score_samples(["bleu_zz"], ["a"], ["a"])
    with pytest.raises(ValueError, match="1 predictions for 2 golds"):
        score_samples(["exact_match"], ["a"], ["a", "b"])
    assert score_samples(["exact_match", "spearman"], [], []) == (
        [],
        {"exact_match": 0.0, "spearman": 0.0},
    )


def test_loglikelihood_requests_and_acc_norm() -> None:
    labels = ["はい", "いいえです"]
    assert choice_requests("P", labels) == [("P", "はい"), ("P", "いいえです")]
    assert choice_requests("Q:", ["A"], separator=" ") == [("Q:", " A")]
    # acc picks はい (-2.0); per character -1.0 vs -0.6, so acc_norm picks いいえです
    assert choice_scores([-2.0, -3.0], labels, "いいえです") == {"acc": 0.0, "acc_norm": 1.0}
    assert chosen_label([-1.0, -1.0], ["x", "y"]) == "x"  # ties: the first label
    with pytest.raises(ValueError, match="1 log-probs for 2 labels"):
        choice_scores([-1.0], labels, "はい")
    assert dataset_choices(NLI) == ("a", "b")
    with pytest.raises(NoChoices, match="no label_list"):
        dataset_choices(Dataset("m", "i", 3, ("exact_match",), ()))


def test_majority_baseline_and_format_following() -> None:
    shots = [Sample("x", "b"), Sample("y", "a"), Sample("z", "b")]
    assert majority_label(shots) == "b"
    assert majority_label([Sample("x", "a"), Sample("y", "b")]) == "a"  # tie: first seen
    assert majority_baseline(NLI, shots) == pytest.approx(2 / 5)  # golds a a b a b
    with pytest.raises(ValueError, match="at least one"):
        majority_label([])
    assert format_following_rate(NLI, ["a", "b", "maybe", ""]) == 0.5
    numeric = Dataset("m", "i", 3, ("exact_match",), (Sample("q", "12"), Sample("r", "-1.5")))
    assert format_check(numeric)("-3.5")
    assert format_check(numeric)("1,000")
    assert not format_check(numeric)("twelve")
    free = Dataset("f", "i", 3, ("char_f1",), (Sample("q", "東京"),))
    assert format_check(free)("大阪")
    assert not format_check(free)(" \n")


def test_categories_and_avg() -> None:
    scores = {
        "jnli": {"exact_match": 0.5},
        "jamp": {"exact_match": 0.3},
        "jsquad": {"char_f1": 0.8},
        "jsts": {"pearson": 0.9},  # not in the v1.4.1 map: ignored
    }
    result = aggregate_categories(scores, V141_CATEGORIES)
    assert result == {"NLI": pytest.approx(0.4), "RC": 0.8, "AVG": pytest.approx(0.6)}
    assert aggregate_categories(scores, {"MINE": {"jsquad": "char_f1"}}) == {
        "MINE": 0.8,
        "AVG": 0.8,
    }
    assert aggregate_categories({}, V141_CATEGORIES) == {}
    assert len(suite_datasets()) == 27
    assert set(V141_CATEGORIES) == {
        *("NLI", "QA", "RC", "MC", "HE", "EL", "FA", "MR", "MT", "CG", "SUM"),
    }


def test_user_category_map(tmp_path: Path) -> None:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"MINE": {"synth_qa": "char_f1"}}), encoding="utf-8")
    assert load_category_map(path) == {"MINE": {"synth_qa": "char_f1"}}
    path.write_text(json.dumps({"MINE": ["synth_qa"]}), encoding="utf-8")
    with pytest.raises(CategoryMapError, match="expected"):
        load_category_map(path)
    with pytest.raises(CategoryMapError, match=r"nothing\.json"):
        load_category_map(tmp_path / "nothing.json")


def test_dataset_scores_from_streamed_rows_equal_scoring_everything_at_once() -> None:
    """A runner keeps the per-sample values it computed while samples streamed in; the
    dataset scores it reports from them are the ones `score_samples` gives."""
    metrics = ["exact_match", "char_f1", "pearson", "spearman"]
    predictions, golds = ["1", "2.5", "東京", "4"], ["1", "3", "東京都", "4"]
    rows, expected = score_samples(metrics, predictions, golds)
    assert dataset_scores(metrics, rows, predictions, golds) == pytest.approx(expected)
    with pytest.raises(ValueError, match="3 per-sample rows for 4 predictions"):
        dataset_scores(metrics, rows[:3], predictions, golds)
