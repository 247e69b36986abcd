"""The runs file: what it accepts, and errors that name the file, the run and the key."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kiseki.core.config import load_config
from kiseki.watcher.config import WatcherConfig
from kiseki.watcher.runs import RunsFileError, WatchedRun, load_runs


def _load(tmp_path: Path, runs: Any) -> list[WatchedRun]:
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(runs))
    return load_runs(path)


def _tokenizer_dir(tmp_path: Path, text: str = '{"model": {}}') -> Path:
    directory = tmp_path / "tokenizer"
    directory.mkdir()
    (directory / "tokenizer.json").write_text(text)
    return directory


def test_a_full_entry_is_read(tmp_path: Path) -> None:
    _tokenizer_dir(tmp_path)
    entry = {
        "run_id": "llm-jp-3-1.8b",
        "root": "/ckpt/1.8b",
        "format": "megatron",
        "tokens_per_step": 4_194_304,
        "tokens_per_sample": 4096,
        "model_size": "1.8b",
        "tags": {"corpus": "v3"},
        "marker_glob": "",
        "tokenizer": "tokenizer",
    }
    [run] = _load(tmp_path, [entry])
    assert run == WatchedRun(
        "llm-jp-3-1.8b",
        Path("/ckpt/1.8b"),
        "megatron",
        4_194_304,
        4096,
        "1.8b",
        {"corpus": "v3"},
        "",
        tmp_path / "tokenizer",
    )


@pytest.mark.parametrize("fmt", ["megatron", "deepspeed", "nemo2"])
def test_a_format_without_its_own_tokenizer_needs_one_named(tmp_path: Path, fmt: str) -> None:
    with pytest.raises(
        RunsFileError, match=f"format '{fmt}', whose checkpoints carry no tokenizer"
    ):
        _load(tmp_path, [{"run_id": "r", "root": "/x", "format": fmt}])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, r"runs\[0\]\.tokenizer '.*' holds none of tokenizer.json"),
        ("{", "tokenizer: Expecting"),
    ],
)
def test_a_missing_or_unreadable_tokenizer_is_refused_at_once(
    tmp_path: Path, text: str | None, message: str
) -> None:
    if text is None:
        (tmp_path / "tokenizer").mkdir()
    else:
        _tokenizer_dir(tmp_path, text)
    entry = {"run_id": "r", "root": "/x", "format": "megatron", "tokenizer": "tokenizer"}
    with pytest.raises(RunsFileError, match=message):
        _load(tmp_path, [entry])


def test_a_relative_root_is_taken_from_the_runs_file(tmp_path: Path) -> None:
    [run] = _load(tmp_path, [{"run_id": "r", "root": "ckpt"}])
    assert run.root == tmp_path / "ckpt"
    assert run.format == "auto"


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ({"run_id": "r"}, "expected a JSON list of runs"),
        (["r"], r"runs\[0\] must be an object"),
        ([{"run_id": "r", "root": "/x", "tokens_per_stepp": 4}], "unknown key 'tokens_per_stepp'"),
        ([{"run_id": "r", "root": "/x", "tokens_per_step": "4M"}], r"\.tokens_per_step must be"),
        ([{"run_id": "r", "root": "/x", "tokens_per_step": True}], r"\.tokens_per_step must be"),
        ([{"run_id": "r", "root": "/x", "tokens_per_step": -1}], "must not be negative"),
        ([{"run_id": "r", "root": "/x", "tags": {"a": 1}}], r"\.tags must map strings"),
        ([{"run_id": "r", "root": "/x", "format": "orbax"}], "format 'orbax' is not one of"),
        ([{"run_id": "r", "root": "/x", "format": "marker"}], "no 'marker_glob'"),
        ([{"root": "/x"}], "needs a non-empty 'run_id'"),
        ([{"run_id": "r", "root": ""}], "needs a non-empty 'root'"),
        ([{"run_id": "r", "root": "/x"}, {"run_id": "r", "root": "/y"}], r"runs\[1\].*repeated"),
    ],
)
def test_bad_entries_are_named(tmp_path: Path, runs: Any, message: str) -> None:
    with pytest.raises(RunsFileError, match=message) as raised:
        _load(tmp_path, runs)
    assert str(tmp_path / "runs.json") in str(raised.value)


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    path.write_text("- run_id: r\n")
    with pytest.raises(RunsFileError, match=re.escape(str(path))):
        load_runs(path)
    with pytest.raises(RunsFileError, match=r"missing\.json"):
        load_runs(tmp_path / "missing.json")


def test_settings_come_from_the_environment() -> None:
    config = load_config(
        WatcherConfig,
        {"KISEKI_WATCH_RUNS_FILE": "/etc/runs.json", "KISEKI_WATCH_QUIET_PERIOD_S": "5"},
    )
    assert (config.runs_file, config.quiet_period_s) == (Path("/etc/runs.json"), 5.0)
    assert (config.poll_interval_s, config.incomplete_timeout_s) == (1.0, 3600.0)
