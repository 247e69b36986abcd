"""A team's llm-jp-eval v2 configuration (`EvaluationConfig`, configs/config_template.yaml)
read as a kiseki policy.

What it maps: the datasets of the evaluation dataset config (`eval_dataset_config`, or the
YAML file `eval_dataset_config_path` names: its `datasets` list) to the suites;
`target_split` to `data_type`; `num_few_shots`, `max_num_samples`, `output_length_delta`,
`custom_prompt_template`, `custom_fewshots_template` and `default_answer_extract_pattern` to
the same settings; v2's prompt template and post-processing (answer patterns). Each entry of
`dataset_info_overrides` becomes that dataset's section: `answer_pattern_id`,
`answer_extract_pattern`, `num_few_shots` as they are, `output_length` as the delta that
gives that budget (it reads the dataset's file, so it needs the datasets directory). An
override of what is scored (instruction, metrics, label_list, samples...) is refused: kiseki
scores a dataset file as it is. `categories` are the report's business (`--categories`).
Keys about the model, inference, exporters and logging (run_name, metainfo, wandb,
online_inference_config, inference_*_dir, max_seq_length, include_non_commercial...) are the
endpoint's or the operator's and are left out; any other key is refused, named. Settings a
config leaves out take kiseki's defaults, not llm-jp-eval's: write them out.

`eval_dataset_config_path` is read as llm-jp-eval reads it, from the working directory, else
beside the config file, else beside its folder (llm-jp-eval's configs/ next to eval_configs/).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kiseki.evaluation.datasets import DatasetError, load_dataset
from kiseki.evaluation.settings import SPLITS
from kiseki.orchestrator.policy import PolicyError

MARKERS = ("eval_dataset_config_path", "eval_dataset_config", "target_split")
_SETTINGS = (
    "num_few_shots",
    "max_num_samples",
    "output_length_delta",
    "custom_prompt_template",
    "custom_fewshots_template",
    "default_answer_extract_pattern",
)
_IGNORED = frozenset(
    {
        "version", "run_name", "output_dir", "log_dir", "resource_dir", "dataset_dir",
        "metainfo", "wandb", "exporters", "online_inference_config", "inference_input_dir",
        "inference_input_path", "inference_result_dir", "inference_result_config",
        "max_seq_length", "include_non_commercial", "prompt_dump_dir", "generation_config",
    }
)  # fmt: skip
_OVERRIDES = ("answer_pattern_id", "answer_extract_pattern", "num_few_shots")


def is_llm_jp_eval_v2_config(raw: Mapping[str, Any]) -> bool:
    return any(key in raw for key in MARKERS)


def _dataset_config(raw: Mapping[str, Any], where: str, config_path: Path) -> Mapping[str, Any]:
    if raw.get("eval_dataset_config") is not None:
        inline = raw["eval_dataset_config"]
        if not isinstance(inline, Mapping):
            raise PolicyError(f"{where}: eval_dataset_config must be a mapping")
        return inline
    name = raw.get("eval_dataset_config_path")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{where}: eval_dataset_config_path or eval_dataset_config is needed")
    given = Path(name)
    folder = config_path.resolve().parent
    candidates = [given] if given.is_absolute() else [given, folder / given, folder.parent / given]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        raise PolicyError(f"{where}: eval_dataset_config_path {name!r}: no such file")
    try:
        document = yaml.safe_load(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise PolicyError(f"{found}: {error}") from None
    if not isinstance(document, Mapping):
        raise PolicyError(f"{found}: expected a mapping at the top level")
    return document


def _section(
    name: str, override: Any, run: Mapping[str, Any], datasets_dir: Path | None, where: str
) -> dict[str, Any]:
    """A dataset's policy section from its `dataset_info_overrides` entry."""
    if not isinstance(override, Mapping):
        raise PolicyError(f"{where}: expected a mapping of DatasetInfo fields")
    refused = sorted(set(override) - {*_OVERRIDES, "output_length"})
    if refused:
        raise PolicyError(
            f"{where}.{refused[0]}: kiseki scores the dataset file as it is and cannot"
            " override this (only answer_pattern_id, answer_extract_pattern, num_few_shots,"
            " output_length)"
        )
    section = {key: override[key] for key in _OVERRIDES if key in override}
    if "output_length" in override:
        section["output_length_delta"] = _delta(
            name, override["output_length"], run, datasets_dir, where
        )
    return section


def _delta(
    name: str, length: Any, run: Mapping[str, Any], datasets_dir: Path | None, where: str
) -> int:
    """The output_length_delta that gives the budget `length` plus the run's delta, as
    llm-jp-eval adds its delta to an overridden output_length."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise PolicyError(f"{where}.output_length: expected an integer ≥ 1, got {length!r}")
    if datasets_dir is None:
        raise PolicyError(f"{where}.output_length: needs the datasets directory (--datasets)")
    try:
        dataset = load_dataset(datasets_dir, name, str(run.get("data_type", "test")))
    except DatasetError as error:
        raise PolicyError(f"{where}.output_length: {error}") from None
    delta = run.get("output_length_delta", 0)
    return length - dataset.output_length + (delta if isinstance(delta, int) else 0)


def policy_from_llm_jp_eval_v2(
    raw: Mapping[str, Any], config_path: Path, datasets_dir: Path | None = None
) -> dict[str, Any]:
    """The policy document that evaluates what the v2 configuration evaluates, every step."""
    where = str(config_path)
    unknown = sorted(set(raw) - set(MARKERS) - set(_SETTINGS) - _IGNORED)
    if unknown:
        raise PolicyError(f"{where}: {unknown[0]}: not an llm-jp-eval v2 key kiseki can honour")
    run: dict[str, Any] = {key: raw[key] for key in _SETTINGS if raw.get(key) is not None}
    run |= {"postprocess": "v2", "prompt_template": "v2"}
    if raw.get("target_split") is not None:
        if raw["target_split"] not in SPLITS:
            raise PolicyError(f"{where}: target_split must be one of {list(SPLITS)}")
        run["data_type"] = raw["target_split"]
    config = _dataset_config(raw, where, config_path)
    extra = sorted(set(config) - {"datasets", "categories", "dataset_info_overrides"})
    if extra:
        raise PolicyError(f"{where}: eval_dataset_config.{extra[0]}: not a key kiseki reads")
    suites = config.get("datasets")
    if not isinstance(suites, list) or not suites or not all(isinstance(s, str) for s in suites):
        raise PolicyError(f"{where}: eval_dataset_config.datasets must list datasets")
    overrides = config.get("dataset_info_overrides") or {}
    if not isinstance(overrides, Mapping):
        raise PolicyError(f"{where}: eval_dataset_config.dataset_info_overrides must be a mapping")
    prefix = f"{where}: eval_dataset_config.dataset_info_overrides"
    run["datasets"] = {
        name: _section(name, override, run, datasets_dir, f"{prefix}.{name}")
        for name, override in overrides.items()
    }
    run["suites"] = list(suites)
    return {"runs": {"*": run}}
