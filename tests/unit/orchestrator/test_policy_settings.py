"""llm-jp-eval's settings in a policy: per run and per dataset, checked with the key named, and
a team's llm-jp-eval configuration read as a policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kiseki.cli import main
from kiseki.evaluation.settings import EvalSettings
from kiseki.orchestrator.policy import PolicyError, parse_policies
from kiseki.orchestrator.policy_file import load_policies

DATASETS = Path(__file__).resolve().parents[3] / "datasets" / "synthetic"
RUN = {
    "suites": ["synth_qa", "synth_nli"],
    "data_type": "dev",
    "max_num_samples": 100,
    "num_few_shots": 2,
    "datasets": {"synth_qa": {"postprocess": "llm-jp-eval-1.4", "num_few_shots": 0}},
}


def test_a_datasets_section_overrides_the_runs_settings() -> None:
    policy = parse_policies({"runs": {"*": RUN}}).for_run("any")
    assert policy is not None
    qa, nli = policy.settings_for("synth_qa"), policy.settings_for("synth_nli")
    assert (nli.data_type, nli.max_num_samples, nli.num_few_shots) == ("dev", 100, 2)
    assert (nli.postprocess, nli.few_shots_forced) == ("llm-jp-eval-1.3", False)
    assert (qa.postprocess, qa.num_few_shots, qa.few_shots_forced) == ("llm-jp-eval-1.4", 0, True)
    assert qa.data_type == "dev"
    assert qa.digest() != nli.digest()
    assert EvalSettings(max_num_samples=100).digest() == EvalSettings(max_num_samples=100).digest()


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ({"data_type": "train"}, r"runs\.\*\.data_type: expected one of \['dev', 'test'\]"),
        ({"max_num_samples": 0}, r"runs\.\*\.max_num_samples \(-1 for all\)"),
        ({"datasets": {"synth_qa": {"answer_extract_pattern": "("}}}, "not a regular expression"),
        ({"datasets": {"synth_qa": {"postproces": "v2"}}}, r"datasets\.synth_qa: unknown keys"),
        ({"datasets": {"jnli": {}}}, r"\['jnli'\] are not among the suites"),
        ({"answer_pattern_id": "boxed"}, "answer_pattern_id: expected one of"),
        ({"shards": "2"}, r"shards: expected an integer"),
    ],
)
def test_a_bad_setting_names_its_key(run: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policies({"runs": {"*": {"suites": ["synth_qa"], **run}}})


LLM_JP_EVAL_V141 = """\
max_seq_length: 2048
dataset_dir: "path/to/dataset"
strict: false
target_dataset: ["synth_qa", "synth_nli"]
log_dir: "./logs"
torch_dtype: "bf16"
custom_prompt_template: null
custom_fewshots_template: null
default_answer_extract_pattern: "(?s)^(.*?)(?=\\\\n\\\\n|\\\\Z)"
output_length_delta: 0
metainfo:
  version: "1.4.1"
  basemodel_name: "model"
  data_type: "dev"
  num_few_shots: 4
  max_num_samples: 100
generator_kwargs:
  do_sample: false
"""


def test_an_llm_jp_eval_configuration_reads_as_a_policy(tmp_path: Path) -> None:
    config = tmp_path / "config_base.yaml"
    config.write_text(LLM_JP_EVAL_V141)
    policy = load_policies(config).for_run("run")
    assert policy is not None
    assert policy.suites == ("synth_qa", "synth_nli")
    settings = policy.settings_for("synth_qa")
    assert (settings.data_type, settings.max_num_samples, settings.num_few_shots) == ("dev", 100, 4)
    assert settings.postprocess == "llm-jp-eval-1.4"
    assert settings.default_answer_extract_pattern == r"(?s)^(.*?)(?=\n\n|\Z)"
    config.write_text(LLM_JP_EVAL_V141.replace('["synth_qa", "synth_nli"]', '"all"'))
    everything = load_policies(config, DATASETS).for_run("run")
    assert everything is not None
    assert len(everything.suites) == 6
    config.write_text(LLM_JP_EVAL_V141.replace('["synth_qa", "synth_nli"]', '"all-without-nc"'))
    with pytest.raises(PolicyError, match="non-commercial"):
        load_policies(config, DATASETS)


def test_policy_check_prints_the_plan_and_fails_on_a_missing_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.json"
    run = {**RUN, "scoring_modes": ["generate", "loglikelihood"]}
    policy.write_text(json.dumps({"runs": {"*": run}}))
    assert (
        main(["policy", "check", str(policy), "--datasets", str(DATASETS), "--format", "json"]) == 0
    )
    rows = {(r["dataset"], r["mode"]): r for r in json.loads(capsys.readouterr().out)}
    assert rows[("synth_qa", "loglikelihood")]["status"] == "skipped: no label_list"
    assert rows[("synth_nli", "generate")]["samples"] == 8  # the dev split holds 8 (< 100)
    assert rows[("synth_qa", "generate")]["few_shots"] == 0
    run["suites"] = ["synth_qa", "jnli"]
    policy.write_text(json.dumps({"runs": {"*": run}}))
    assert main(["policy", "check", str(policy), "--datasets", str(DATASETS)]) == 2
    assert "fails:" in capsys.readouterr().out
    policy.write_text('{"runs": {"*": {"suites": ["synth_qa"], "max_num_samples": -2}}}')
    assert main(["policy", "check", str(policy)]) == 2
    assert "max_num_samples" in capsys.readouterr().err


def test_every_policy_the_readme_shows_passes_policy_check(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```json\n(.*?)```", readme, re.S) if '"runs"' in b]
    assert len(blocks) >= 2
    for index, block in enumerate(blocks):
        policy = tmp_path / f"policy{index}.json"
        policy.write_text(block)
        assert main(["policy", "check", str(policy)]) == 0, block
