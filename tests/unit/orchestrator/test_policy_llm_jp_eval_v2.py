"""A team's llm-jp-eval v2 configuration (configs/config.yaml with eval_configs/*.yaml, as the
v2 template lays them out) read as a policy through `kiseki policy check`: the resolved plan,
and a bad configuration refused with its key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiseki.cli import main

DATASETS = Path(__file__).resolve().parents[3] / "datasets" / "synthetic"
CONFIG = """\
run_name: llm-jp-3-1.8b-step1000
output_dir: ./local_files
eval_dataset_config_path: ./eval_configs/study.yaml
include_non_commercial: false
target_split: dev
num_few_shots: 2
max_num_samples: 5
output_length_delta: 0
max_seq_length: 2048
default_answer_extract_pattern: "(?s)^(.*?)(?=\\\\n\\\\n|\\\\Z)"
metainfo:
  basemodel_name: llm-jp-3-1.8b
  model_type: llm-jp
exporters:
  local:
    export_output_table: true
    output_top_n: 5
"""
DATASET_CONFIG = """\
datasets:
  - synth_qa
  - synth_arith
  - synth_nli
categories:
  NLI:
    description: Natural Language Inference
    default_metric: exact_match
    metrics: {}
    datasets: [synth_nli]
dataset_info_overrides:
  synth_arith:
    answer_pattern_id: custom
    answer_extract_pattern: "([-0-9]+)"
    output_length: 10
  synth_qa:
    num_few_shots: 1
"""


def _write(tmp_path: Path, config: str = CONFIG, datasets: str = DATASET_CONFIG) -> Path:
    (tmp_path / "configs").mkdir()
    (tmp_path / "eval_configs").mkdir()
    (tmp_path / "eval_configs" / "study.yaml").write_text(datasets, encoding="utf-8")
    path = tmp_path / "configs" / "config.yaml"
    path.write_text(config, encoding="utf-8")
    return path


def test_a_v2_config_resolves_to_its_datasets_split_samples_and_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _write(tmp_path)
    check = ["policy", "check", str(config), "--datasets", str(DATASETS), "--format", "json"]
    assert main(check) == 0
    rows = {r["dataset"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(rows) == ["synth_qa", "synth_arith", "synth_nli"]
    assert {r["data_type"] for r in rows.values()} == {"dev"}
    assert {r["samples"] for r in rows.values()} == {5}  # the dev files hold 8
    assert {r["template"] for r in rows.values()} == {"v2"}
    assert {n: r["few_shots"] for n, r in rows.items()} == {
        "synth_qa": 1,
        "synth_arith": 2,
        "synth_nli": 2,
    }
    assert rows["synth_arith"]["max_new_tokens"] == 10  # the overridden output_length
    assert rows["synth_nli"]["max_new_tokens"] == 4  # the file's own
    assert {r["postprocess"] for r in rows.values()} == {"v2"}
    assert rows["synth_arith"]["status"] == "ok"


@pytest.mark.parametrize(
    ("config", "datasets", "named"),
    [
        (CONFIG + "strict: true\n", DATASET_CONFIG, "strict"),
        (CONFIG, DATASET_CONFIG.replace("num_few_shots: 1", "metrics: [char_f1]"), "metrics"),
        (CONFIG, DATASET_CONFIG.replace('"([-0-9]+)"', '"(["'), "answer_extract_pattern"),
        (CONFIG, DATASET_CONFIG + "dataset_dir: /x\n", "dataset_dir"),
        (CONFIG.replace("study.yaml", "missing.yaml"), DATASET_CONFIG, "eval_dataset_config_path"),
        (CONFIG.replace("target_split: dev", "target_split: val"), DATASET_CONFIG, "target_split"),
    ],
)
def test_a_bad_v2_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, datasets: str, named: str
) -> None:
    path = _write(tmp_path, config, datasets)
    assert main(["policy", "check", str(path), "--datasets", str(DATASETS)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert named in error[0]
