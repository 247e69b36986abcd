"""A team's llm-jp-eval configuration (v1.4.x `config_base.yaml`) read as a kiseki policy.

What it maps: `target_dataset` (a list, or "all" / "all-with-nc": every dataset in the
datasets directory's split) to the suites; `metainfo.data_type`, `metainfo.num_few_shots`,
`metainfo.max_num_samples`, `output_length_delta`, `custom_prompt_template`,
`custom_fewshots_template` and `default_answer_extract_pattern` to the same settings; the
post-processing follows `metainfo.version` (1.4 and later extract with the pattern, earlier
versions cut at the first blank line). Keys about the model, logging and generation are the
endpoint's business and are left out. "all-without-nc" needs llm-jp-eval's list of
non-commercial datasets, which kiseki does not hold: name the datasets instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiseki.orchestrator.policy import PolicyError

_SETTINGS = (
    "output_length_delta",
    "custom_prompt_template",
    "custom_fewshots_template",
    "default_answer_extract_pattern",
)
_METAINFO = ("data_type", "num_few_shots", "max_num_samples")
# Every other key of v1.4.x's configs/config_template.yaml (and the model/tokenizer groups
# Hydra composes in): accepted and left to the endpoint. Anything else is a typo whose
# setting would silently keep its default, so it is refused by name.
_OTHER_KEYS = frozenset({
    "defaults", "model", "tokenizer", "openapi", "max_seq_length", "dataset_dir", "strict",
    "target_dataset", "log_dir", "torch_dtype", "resource_dir", "prompt_dump_dir",
    "offline_dir", "wandb", "metainfo", "pipeline_kwargs", "generator_kwargs", "hydra",
})  # fmt: skip
_OTHER_METAINFO = frozenset({
    "version", "basemodel_name", "model_type", "instruction_tuning_method_by_llm_jp",
    "instruction_tuning_data_by_llm_jp",
})  # fmt: skip


def is_llm_jp_eval_config(raw: Mapping[str, Any]) -> bool:
    return "target_dataset" in raw or "metainfo" in raw


def _check_keys(raw: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        raise PolicyError(
            f"{where}: unknown llm-jp-eval keys {unknown}; v1.4.x knows {sorted(known)}"
        )


def _suites(target: Any, datasets_dir: Path | None, split: str, where: str) -> list[str]:
    if isinstance(target, list) and target and all(isinstance(t, str) for t in target):
        return list(target)
    if target in ("all", "all-with-nc"):
        if datasets_dir is None or not (datasets_dir / split).is_dir():
            raise PolicyError(f"{where}: target_dataset {target!r} needs the datasets directory")
        return sorted(path.stem for path in (datasets_dir / split).glob("*.json"))
    raise PolicyError(
        f"{where}: target_dataset must list datasets or be 'all' (kiseki does not know"
        f" llm-jp-eval's non-commercial set), got {target!r}"
    )


def _postprocess(version: Any) -> str:
    parts = str(version or "").lstrip("v").split(".")
    numbers = [int(p) for p in parts[:2] if p.isdigit()]
    return "llm-jp-eval-1.4" if numbers and tuple(numbers) >= (1, 4) else "llm-jp-eval-1.3"


def policy_from_llm_jp_eval(
    raw: Mapping[str, Any], where: str, datasets_dir: Path | None = None
) -> dict[str, Any]:
    """The policy document that evaluates what the configuration evaluates, every step."""
    metainfo = raw.get("metainfo") or {}
    if not isinstance(metainfo, Mapping):
        raise PolicyError(f"{where}: metainfo must be a mapping")
    _check_keys(raw, _OTHER_KEYS | frozenset(_SETTINGS), where)
    _check_keys(metainfo, _OTHER_METAINFO | frozenset(_METAINFO), f"{where}: metainfo")
    run: dict[str, Any] = {key: metainfo[key] for key in _METAINFO if metainfo.get(key) is not None}
    run.update({key: raw[key] for key in _SETTINGS if raw.get(key) is not None})
    run["postprocess"] = _postprocess(metainfo.get("version"))
    split = str(run.get("data_type", "test"))
    run["suites"] = _suites(raw.get("target_dataset", "all"), datasets_dir, split, where)
    return {"runs": {"*": run}}
