"""The store-reading commands (runs, checkpoints, scores, trajectory, shapes, sql) on a store
with known values, chDB and a server: outputs, plots and clear errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.core.store import apply_schema, open_store
from support.analytics import RUN, STEPS, fill

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store_url(store_url: str) -> str:
    """The conftest's store (chDB, then a server) filled with two runs, and closed: the
    commands open it themselves."""
    store = open_store(store_url)
    try:
        apply_schema(store)
        fill(store)
        fill(store, "r2")
    finally:
        store.close()
    return store_url


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_and_checkpoints_as_json(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "runs", "--store", store_url, "--format", "json")
    assert code == 0
    assert [r["run_id"] for r in json.loads(out)] == [RUN, "r2"]
    code, out, _ = run_cli(capsys, "checkpoints", RUN, "--store", store_url, "--format", "json")
    assert [r["step"] for r in json.loads(out)] == STEPS


def test_scores_by_category_as_csv(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "scores",
        RUN,
        "--category",
        "NLI",
        "--mode",
        "generate",
        "--store",
        store_url,
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [float(r["score"]) for r in rows] == [0.0, 0.25, 0.5, 0.5, 0.75, 1.0]


def test_trajectory_of_several_runs_with_a_plot(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "nli.png"
    code, out, _ = run_cli(
        capsys,
        "trajectory",
        RUN,
        "r2",
        "--category",
        "NLI",
        "--ma",
        "2",
        "--plot",
        str(png),
        "--store",
        store_url,
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out.split("\n", 1)[1])  # after the "plot: ..." line
    assert {r["run_id"] for r in rows} == {RUN, "r2"}
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 10_000


def test_shapes_with_a_plot(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "shapes.png"
    code, out, _ = run_cli(
        capsys, "shapes", RUN, "--plot", str(png), "--store", store_url, "--format", "csv"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.split("\n", 1)[1])))
    assert {r["category"] for r in rows} == {"NLI", "RC", "AVG"}
    for row in rows:  # a shape with its confidence, or undetermined and why
        if row["shape"] == "undetermined":
            assert row["why"]
        else:
            assert float(row["confidence"]) >= 0.6
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["scores", "nope"], "unknown run nope (the store holds: r1, r2)"),
        (["trajectory", RUN, "nope"], "unknown run nope"),
        (["trajectory", RUN, "--category", "XX"], "no generate category scores for r1"),
        (["scores", RUN, "--dataset", "missing"], "no scores for run r1 dataset=missing"),
        (["sql", "DROP TABLE runs"], "not DROP"),
        (["sql", "SELECT nope FROM runs"], "UNKNOWN_IDENTIFIER"),
        (["sql", "SELECT 1 WHERE 0"], "the query returned no rows"),
        (["trajectory", RUN, "--ma", "0"], "window must be at least 1"),
    ],
)
def test_clear_errors(
    store_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(capsys, *argv, "--store", store_url)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1  # one line, no traceback


def test_a_missing_store_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "runs", "--store", f"chdb:{tmp_path / 'absent'}")
    assert code == 2
    assert "no chDB store at" in err
    assert not (tmp_path / "absent").exists()


def test_the_wrapper_exits_2_without_a_traceback(store_url: str) -> None:
    result = subprocess.run(
        [
            str(REPO / "tools" / "kiseki"),
            "sql",
            "SELECT * FROM no_such_table",
            "--store",
            store_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("kiseki sql: ")
    assert "Traceback" not in result.stderr
