"""Regressions and noise found in per-sample rows planted in a real chDB store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.core.store import Store, apply_schema, open_store
from kiseki.report import regressions

RUN = "r"


def _rows(
    dataset: str, step: int, values: list[float], mode: str = "generate"
) -> list[dict[str, object]]:
    metric = "exact_match" if dataset == "jnli" else "char_f1"
    return [
        {
            "run_id": RUN,
            "checkpoint_id": f"{RUN}-{step}",
            "step": step,
            "dataset": dataset,
            "sample_index": i,
            "scoring_mode": mode,
            "metrics": {metric: v},
        }
        for i, v in enumerate(values)
    ]


def _plant(store: Store) -> Store:
    rows = _rows("jnli", 100, [1.0] * 20)
    rows += _rows("jnli", 200, [0.0] * 10 + [1.0] * 10)  # ten right answers turn wrong
    rows += _rows("jnli", 300, [0.0] * 9 + [1.0] * 11)  # one comes back: no drop
    rows += _rows("jnli", 400, [0.0] * 10 + [1.0] * 10)  # one falls again: not significant
    for step, level in zip(
        (100, 200, 300, 400, 500, 600), (0.2, 0.5, 0.6, 0.5, 0.6, 0.5), strict=True
    ):
        rows += _rows("jsquad", step, [level] * 30)
    store.insert_rows("sample_results", rows)
    store.insert_rows(
        "checkpoints",
        [{"checkpoint_id": f"{RUN}-{s}", "run_id": RUN, "step": s} for s in (100, 200, 300, 400)],
    )
    return store


@pytest.fixture
def planted(chdb_store: Store) -> Store:
    return _plant(chdb_store)


def test_a_planted_regression_is_found_with_its_exact_p_value(planted: Store) -> None:
    found = regressions.regressions(planted, RUN, dataset="jnli")
    assert [(r["step"], r["against"], r["against_step"]) for r in found] == [
        (200, "previous", 100),
        (300, "best", 100),
        (400, "best", 100),
    ]
    first = found[0]
    assert first["p_value"] == pytest.approx(2 * 0.5**10)
    assert (first["delta"], first["fell"]) == (-0.5, 10)
    assert first["fell_samples"] == "0,1,2,3,4,5,6,7,8,9"


def test_noise_recovers_the_planted_spread(planted: Store) -> None:
    [row] = regressions.noise(planted, RUN, dataset="jsquad", last=5)
    assert row["noise"] == pytest.approx(0.049, abs=0.001)  # pstdev of .5 .6 .5 .6 .5
    assert row["rise"] == pytest.approx(0.4)
    assert row["signal_to_noise"] == pytest.approx(0.4 / 0.049, rel=0.02)
    assert row["ci_low"] == row["ci_high"] == 0.5  # every sample of the last checkpoint alike


def test_the_commands_print_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store(f"chdb:{tmp_path / 'store'}")
    apply_schema(store)
    _plant(store).close()
    url = ["--store", f"chdb:{tmp_path / 'store'}", "--format", "json"]
    assert main(["regressions", RUN, "--dataset", "jnli", *url]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    plot = tmp_path / "noise.png"
    assert main(["noise", RUN, "--dataset", "jsquad", "--plot", str(plot), *url]) == 0
    assert plot.stat().st_size > 0
    assert main(["regressions", RUN, "--alpha", "0.0001", *url]) == 2  # none that strong


class Recording:
    """The store, with the checkpoints each query of the samples was restricted to."""

    def __init__(self, store: Store) -> None:
        self.store, self.restricted_to = store, list[list[str]]()

    def query(self, sql: str, params: dict[str, object]) -> list[dict[str, object]]:
        self.restricted_to.append(list(params.get("checkpoints", [])))  # type: ignore[call-overload]
        return self.store.query(sql, params)


def test_the_sinks_kept_scores_find_what_a_whole_read_finds(store: Store) -> None:
    """Checkpoints arriving one by one, one of them scored again with other values: the
    check that keeps the steps' scores (StepMeans, as the sink does) announces exactly what
    one reading the whole run announces, and after the first it reads only the checkpoints
    it compares."""
    arrivals = [
        (100, [0.0] * 2 + [1.0] * 18),
        (200, [0.0] * 10 + [1.0] * 10),
        (300, [0.0] * 9 + [1.0] * 11),
        (200, [1.0] * 20),  # step 200 scored again: its drop gone, and it is the best now
        (400, [0.0] * 10 + [1.0] * 10),
        (500, [0.0] * 20),
    ]
    kept, recording = regressions.StepMeans(), Recording(store)
    for number, (step, values) in enumerate(arrivals):
        store.insert_rows("sample_results", _rows("jnli", step, values), f"arrival-{number}")
        recording.restricted_to.clear()
        incremental = regressions.drops_at(
            recording,  # type: ignore[arg-type]
            *(RUN, step, "jnli", "generate"),
            known=kept,
            checkpoint=f"{RUN}-{step}",
        )
        whole = regressions.drops_at(store, RUN, step, "jnli", "generate")
        assert incremental == whole, (step, incremental, whole)
        if number:
            assert all(recording.restricted_to), recording.restricted_to
    found = [(r["step"], r["against"], r["against_step"]) for r in whole]
    assert found == [(500, "previous", 400), (500, "best", 200)]
