"""A policy file: kiseki's policy in JSON or YAML, or a team's llm-jp-eval configuration
(v1.4.x `config_base.yaml` or v2 `EvaluationConfig`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kiseki.orchestrator.llm_jp_eval_config import is_llm_jp_eval_config, policy_from_llm_jp_eval
from kiseki.orchestrator.llm_jp_eval_v2_config import (
    is_llm_jp_eval_v2_config,
    policy_from_llm_jp_eval_v2,
)
from kiseki.orchestrator.policy import PolicyBook, PolicyError, parse_policies


def read_policy_document(path: Path, datasets_dir: Path | None = None) -> dict[str, Any]:
    """The policy document in `path`; an llm-jp-eval configuration becomes the policy that
    evaluates the same (its "all" datasets are those in `datasets_dir`)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as error:
        raise PolicyError(f"{path}: {error}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    if is_llm_jp_eval_v2_config(raw):  # first: v2 has a metainfo too (the model's)
        return policy_from_llm_jp_eval_v2(raw, path, datasets_dir)
    if is_llm_jp_eval_config(raw):
        return policy_from_llm_jp_eval(raw, str(path), datasets_dir)
    return raw


def load_policies(path: Path, datasets_dir: Path | None = None) -> PolicyBook:
    return parse_policies(read_policy_document(path, datasets_dir), str(path))
