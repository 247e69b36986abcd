import json
from pathlib import Path

import pytest

from kiseki.orchestrator.policy import PolicyError, RunPolicy, parse_policies
from kiseki.orchestrator.policy_file import load_policies
from kiseki.v1 import events_pb2 as ev

STUDY_STEPS = [0, 1, 5, 9, 10, 11, 20, 90, 99, 100, 150, 900, 1000, 1001, 2000, 12000, 20000]


def test_log_selection_is_the_seed_study_schedule() -> None:
    policy = RunPolicy(suites=("jnli",), select="log")
    assert [s for s in STUDY_STEPS if policy.selects(s)] == [
        0, 1, 5, 9, 10, 20, 90, 100, 900, 1000, 2000, 20000,
    ]  # fmt: skip


def test_every_n_and_all() -> None:
    assert [s for s in range(12) if RunPolicy(("x",), select="every:5").selects(s)] == [0, 5, 10]
    assert all(RunPolicy(("x",)).selects(s) for s in STUDY_STEPS)


def test_order() -> None:
    assert RunPolicy(("x",), order="newest").ordered([10, 1, 100]) == [100, 10, 1]
    assert RunPolicy(("x",)).ordered([10, 1, 100]) == [1, 10, 100]


def test_policy_file_with_defaults_and_named_runs(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(
            {
                "budget": {"max_endpoints": 3},
                "runs": {
                    "*": {"suites": ["jnli"], "select": "log"},
                    "big": {"suites": ["jamp"], "scoring_modes": ["loglikelihood"], "shards": 4},
                },
            }
        )
    )
    book = load_policies(path)
    assert book.max_endpoints == 3
    assert book.for_run("other") == RunPolicy(suites=("jnli",), select="log")
    big = book.for_run("big")
    assert big is not None
    assert big.scoring_modes == (ev.SCORING_MODE_LOGLIKELIHOOD,)
    assert big.shards == 4
    assert parse_policies({"runs": {"a": {"suites": ["x"]}}}).for_run("b") is None


def test_converted_copies_are_deleted_unless_the_policy_keeps_them() -> None:
    book = parse_policies(
        {"runs": {"a": {"suites": ["x"], "keep_converted": True}, "*": {"suites": ["x"]}}}
    )
    assert [book.for_run(r).keep_converted for r in ("a", "b")] == [True, False]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"runs": {"a": {"suites": ["x"], "selct": "log"}}}, r"runs.a: unknown keys \['selct'\]"),
        ({"runs": {"a": {"suites": []}}}, "'suites' must list"),
        ({"runs": {"a": {"suites": ["x"], "select": "every:0"}}}, "select must be"),
        ({"runs": {"a": {"suites": ["x"], "scoring_modes": ["vibes"]}}}, "scoring_modes"),
        ({"runs": {"a": {"suites": ["x"], "order": "random"}}}, "order must be"),
        ({"budget": {"max_endpoints": 0}}, "max_endpoints"),
        ({"bugdet": {}}, r"unknown keys \['bugdet'\]"),
        ({"runs": {"a": {"suites": ["x"], "keep_converted": "yes"}}}, "keep_converted: expected"),
    ],
)
def test_bad_policies_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policies(raw, "policy.json")


def test_unreadable_policy_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(PolicyError, match=r"p\.json"):
        load_policies(bad)
