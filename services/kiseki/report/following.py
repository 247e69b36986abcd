"""The instruction-following rate against the score (the study's third figure), per dataset or
category, generation mode: per checkpoint the share of answers in the expected form, the
score, and the majority baseline; per run, when the rate first reached 95 % and whether the
score then sat at the baseline — a format learned before the answers are (the two-stage
explanation).
"""

from __future__ import annotations

from kiseki.core.store import Store
from kiseki.report.queries import NotFound, Rows, require_runs

FOLLOWED = 0.95
AT_BASELINE = 0.05  # a score within this of the baseline sits at it

CATEGORY_SQL = """
SELECT f.run_id AS run_id, f.step AS step, f.tokens_seen AS tokens_seen, f.rate AS rate,
       s.score AS score, if(b.known, b.baseline, NULL) AS baseline
FROM category_format_following AS f
LEFT JOIN (SELECT checkpoint_id, category, score FROM category_scores
           WHERE scoring_mode = 'generate') AS s
     ON s.checkpoint_id = f.checkpoint_id AND s.category = f.category
LEFT JOIN (SELECT run_id, category, baseline, true AS known FROM category_baselines
           WHERE scoring_mode = 'generate') AS b
     ON b.run_id = f.run_id AND b.category = f.category
WHERE f.run_id IN ({runs}) AND f.category = {name:String}
ORDER BY run_id, step
"""

DATASET_SQL = """
SELECT f.run_id AS run_id, f.step AS step, f.tokens_seen AS tokens_seen, f.rate AS rate,
       s.score AS score, if(b.known, b.baseline, NULL) AS baseline
FROM format_following AS f
LEFT JOIN (SELECT sc.checkpoint_id AS checkpoint_id, sc.dataset AS dataset, sc.score AS score
           FROM scores AS sc INNER JOIN category_members AS m ON m.dataset = sc.dataset
           WHERE sc.scoring_mode = 'generate' AND sc.metric = m.metric) AS s
     ON s.checkpoint_id = f.checkpoint_id AND s.dataset = f.dataset
LEFT JOIN (SELECT run_id, dataset, score AS baseline, true AS known FROM baselines FINAL) AS b
     ON b.run_id = f.run_id AND b.dataset = f.dataset
WHERE f.run_id IN ({runs}) AND f.dataset = {name:String}
ORDER BY run_id, step
"""


def following(store: Store, run_ids: list[str], dataset: str = "", category: str = "") -> Rows:
    """Per run and checkpoint: tokens, following rate, score, baseline (None if unknown)."""
    if bool(dataset) == bool(category):
        raise ValueError("name one dataset or one category")
    require_runs(store, run_ids)
    placeholders = ", ".join(f"{{run{i}:String}}" for i in range(len(run_ids)))
    params: dict[str, object] = {f"run{i}": run for i, run in enumerate(run_ids)}
    params["name"] = dataset or category
    sql = (DATASET_SQL if dataset else CATEGORY_SQL).replace("{runs}", placeholders)
    rows = store.query(sql, params)
    if not rows:
        raise NotFound(f"no generated answers of {dataset or category} in {', '.join(run_ids)}")
    for row in rows:
        for key in ("rate", "score", "baseline"):
            if row[key] is not None:
                row[key] = float(row[key])
    return rows


def summary(rows: Rows) -> Rows:
    """Per run: the first checkpoint whose rate reached 95 %, its score, and whether that
    score sat at the baseline (None when no baseline is known)."""
    result = []
    for run_id in sorted({r["run_id"] for r in rows}):
        points = [r for r in rows if r["run_id"] == run_id]
        reached = next((r for r in points if r["rate"] >= FOLLOWED), None)
        baseline = points[0]["baseline"]
        at_baseline = None
        if reached is not None and baseline is not None and reached["score"] is not None:
            at_baseline = abs(reached["score"] - baseline) <= AT_BASELINE
        result.append(
            {
                "run_id": run_id,
                "followed_at_step": None if reached is None else reached["step"],
                "followed_at_tokens": None if reached is None else reached["tokens_seen"],
                "score_then": None if reached is None else reached["score"],
                "baseline": baseline,
                "score_at_baseline": at_baseline,
                "last_rate": points[-1]["rate"],
                "last_score": points[-1]["score"],
            }
        )
    return result
