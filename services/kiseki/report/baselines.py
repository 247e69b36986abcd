"""Majority-class baselines: computed from a dataset directory's few-shot examples by the
evaluation core, stored per (run, dataset) in the `baselines` table.

They reach the store this way because a baseline needs the dataset files, which the sink
never reads: `kiseki up` writes them for its watched runs before the sink takes the store,
and `kiseki baselines RUN --datasets DIR` writes them into any store (a ClickHouse server,
or a chDB directory no process holds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kiseki.core.store import Store
from kiseki.core.store.base import Row
from kiseki.evaluation.baselines import majority_baseline, majority_label
from kiseki.evaluation.pipeline import load_task
from kiseki.evaluation.settings import EvalSettings


def baseline_rows(
    run_id: str, datasets_dir: Path, settings: Mapping[str, EvalSettings]
) -> list[dict[str, Any]]:
    """One row per dataset evaluated with few-shot examples, over the samples and examples its
    settings score (the same task as the runner's). Raises DatasetError for a bad file."""
    rows: list[dict[str, Any]] = []
    for name, chosen in settings.items():
        task = load_task(datasets_dir, name, chosen)
        dataset, examples = task.dataset, task.few_shots
        if not examples:
            continue  # zero-shot: no examples to take a majority from
        rows.append(
            {
                "run_id": run_id,
                "dataset": name,
                "metric": dataset.metrics[0],
                "num_few_shots": len(examples),
                "majority_label": majority_label(examples),
                "score": majority_baseline(dataset, examples, task.samples),
            }
        )
    return rows


def store_baselines(store: Store, rows: Sequence[Row]) -> None:
    store.insert_rows("baselines", rows)
