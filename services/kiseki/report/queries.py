"""Reading the trajectory back from the store: the SQL behind the CLI, the demo and the plots.

Each function runs one query over the store's views (see kiseki.core.store.schema) and
returns plain rows; shapes are classified by the evaluation core's rule, never in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kiseki.core.store import Store
from kiseki.evaluation.shape_confidence import judge
from kiseki.evaluation.trajectory import DEFAULT_RULE, Point, ShapeRule

Rows = list[dict[str, Any]]


class NotFound(LookupError):
    """A run, dataset or category that the store does not hold; the message names it."""


RUNS_SQL = """
SELECT c.run_id AS run_id, any(r.model_size) AS model_size, count() AS checkpoints,
       max(c.step) AS latest_step, max(c.tokens_seen) AS latest_tokens
FROM checkpoint_tokens AS c LEFT JOIN (SELECT run_id, model_size FROM runs FINAL) AS r
     ON r.run_id = c.run_id
GROUP BY run_id ORDER BY run_id
"""

CHECKPOINTS_SQL = """
SELECT c.step AS step, c.tokens_seen AS tokens_seen, c.checkpoint_id AS checkpoint_id,
       s.state AS state, s.reason AS reason
FROM checkpoint_tokens AS c LEFT JOIN checkpoint_latest_status AS s
     ON s.checkpoint_id = c.checkpoint_id
WHERE c.run_id = {run:String} ORDER BY step
"""

DATASET_SCORES_SQL = """
SELECT step, tokens_seen, dataset, scoring_mode, metric, score, samples FROM scores
WHERE run_id = {run:String} AND ({dataset:String} = '' OR dataset = {dataset:String})
  AND ({mode:String} = '' OR scoring_mode = {mode:String})
ORDER BY step, dataset, scoring_mode, metric
"""

CATEGORY_SCORES_SQL = """
SELECT step, tokens_seen, scoring_mode, category, score, parts FROM category_scores
WHERE run_id = {run:String} AND ({category:String} = '' OR category = {category:String})
  AND ({mode:String} = '' OR scoring_mode = {mode:String})
ORDER BY step, scoring_mode, category
"""

TRAJECTORY_SQL = """
SELECT t.run_id AS run_id, t.step AS step, t.tokens_seen AS tokens_seen,
       t.scoring_mode AS scoring_mode, t.category AS category, t.score AS score,
       t.score_ma AS score_ma, if(b.known, b.baseline, NULL) AS baseline
FROM category_trajectory(window = {window:UInt64}) AS t
LEFT JOIN (SELECT run_id, scoring_mode, category, baseline, true AS known
           FROM category_baselines) AS b
     ON b.run_id = t.run_id AND b.scoring_mode = t.scoring_mode AND b.category = t.category
WHERE t.run_id IN ({runs})
  AND ({category:String} = '' OR t.category = {category:String})
  AND t.scoring_mode = {mode:String}
ORDER BY run_id, category, step
"""

KNOWN_RUNS_SQL = """
SELECT DISTINCT run_id FROM (SELECT run_id FROM checkpoints UNION ALL SELECT run_id FROM runs)
"""


def runs(store: Store) -> Rows:
    return store.query(RUNS_SQL)


def require_runs(store: Store, run_ids: list[str]) -> None:
    known = {row["run_id"] for row in store.query(KNOWN_RUNS_SQL)}
    missing = [r for r in run_ids if r not in known]
    if missing:
        names = sorted(known)
        listed = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        listed = listed or "none"
        raise NotFound(f"unknown run {', '.join(missing)} (the store holds: {listed})")


def checkpoints(store: Store, run_id: str) -> Rows:
    require_runs(store, [run_id])
    return store.query(CHECKPOINTS_SQL, {"run": run_id})


def dataset_scores(store: Store, run_id: str, dataset: str = "", mode: str = "") -> Rows:
    require_runs(store, [run_id])
    return store.query(DATASET_SCORES_SQL, {"run": run_id, "dataset": dataset, "mode": mode})


def category_scores(store: Store, run_id: str, category: str = "", mode: str = "") -> Rows:
    require_runs(store, [run_id])
    return store.query(CATEGORY_SCORES_SQL, {"run": run_id, "category": category, "mode": mode})


def trajectory(
    store: Store, run_ids: list[str], category: str = "", mode: str = "generate", window: int = 20
) -> Rows:
    """Per (run, category, checkpoint): score, its moving average, the category's baseline
    (None when no baseline was stored)."""
    if window < 1:
        raise ValueError("the moving-average window must be at least 1")
    require_runs(store, run_ids)
    # One parameter per run: both clients bind scalars the same way.
    placeholders = ", ".join(f"{{run{i}:String}}" for i in range(len(run_ids)))
    params: dict[str, object] = {f"run{i}": run for i, run in enumerate(run_ids)}
    params.update(category=category, mode=mode, window=window)
    rows = store.query(TRAJECTORY_SQL.replace("{runs}", placeholders), params)
    for row in rows:  # JSON output writes 0.0 as 0: keep every score a float
        for key in ("score", "score_ma", "baseline"):
            if row[key] is not None:
                row[key] = float(row[key])
    return rows


def wide(rows: Rows) -> Rows:
    """Trajectory rows as one row per (run, checkpoint) and one column per category's moving
    average, AVG last."""
    categories = sorted({r["category"] for r in rows}, key=lambda c: (c == "AVG", c))
    lines: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["run_id"], row["step"])
        line = lines.setdefault(key, {"tokens_seen": row["tokens_seen"]})
        line[row["category"]] = row["score_ma"]
    return [
        {"run_id": run, "step": step, "tokens_seen": line["tokens_seen"]}
        | {c: line.get(c) for c in categories}
        for (run, step), line in sorted(lines.items())
    ]


@dataclass(frozen=True)
class Curve:
    run_id: str
    category: str
    points: list[Point]  # (tokens, score) in step order
    baseline: float | None


def curves(rows: Rows) -> list[Curve]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(row["run_id"], row["category"])].append(row)
    return [
        Curve(
            run,
            category,
            [(int(r["tokens_seen"]), float(r["score"])) for r in members],
            members[0]["baseline"],
        )
        for (run, category), members in sorted(grouped.items())
    ]


def shapes(
    store: Store, run_ids: list[str], mode: str = "generate", rule: ShapeRule = DEFAULT_RULE
) -> Rows:
    """The shape of every (run, category) trajectory."""
    return shapes_of(trajectory(store, run_ids, mode=mode, window=1), rule)


def shapes_of(rows: Rows, rule: ShapeRule = DEFAULT_RULE) -> Rows:
    """Shapes from trajectory rows (their raw scores: the moving-average window is unused),
    each with its confidence, or "undetermined" and why."""
    result = []
    for curve in curves(rows):
        judged = judge(curve.points, curve.baseline, rule)
        found = judged.found
        result.append(
            {
                "run_id": curve.run_id,
                "category": curve.category,
                "shape": judged.shape,
                "confidence": round(judged.confidence, 2),
                "rise": None if found is None else round(found.rise, 4),
                "baseline": curve.baseline,
                "onset_tokens": None if found is None else found.onset_tokens,
                "checkpoints": len(curve.points),
                "why": judged.reason,
            }
        )
    return result
