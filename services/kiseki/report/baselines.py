"""Majority-class baselines: computed from a dataset directory's few-shot examples by the
evaluation core, stored per (run, dataset) in the `baselines` table.

They reach the store this way because a baseline needs the dataset files, which the sink
never reads: `kiseki up` writes them for its watched runs before the sink takes the store,
and `kiseki baselines RUN --datasets DIR` writes them into any store (a ClickHouse server,
or a chDB directory no process holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kiseki.core.store import Store
from kiseki.core.store.base import Row
from kiseki.evaluation.baselines import majority_baseline, majority_label
from kiseki.evaluation.datasets import few_shot_examples, load_dataset


def baseline_rows(
    run_id: str, datasets_dir: Path, names: Iterable[str], shots: int
) -> list[dict[str, Any]]:
    """One row per dataset evaluated with few-shot examples (a dataset's own `num_few_shots`
    wins over `shots`, as in scoring). Raises DatasetError for a missing or malformed file."""
    rows: list[dict[str, Any]] = []
    for name in names:
        dataset = load_dataset(datasets_dir, name)
        count = shots if dataset.num_few_shots is None else dataset.num_few_shots
        if count == 0:
            continue  # zero-shot: no examples to take a majority from
        examples = few_shot_examples(datasets_dir, name, count)
        rows.append(
            {
                "run_id": run_id,
                "dataset": name,
                "metric": dataset.metrics[0],
                "num_few_shots": len(examples),
                "majority_label": majority_label(examples),
                "score": majority_baseline(dataset, examples),
            }
        )
    return rows


def store_baselines(store: Store, rows: Sequence[Row]) -> None:
    store.insert_rows("baselines", rows)
