"""Runs side by side: scores at equal training tokens, the order in which categories emerge,
and a category's score predicted at a token count from its trajectory so far."""

from __future__ import annotations

from typing import Any

from kiseki.core.store import Store
from kiseki.evaluation.extrapolation import at_tokens, fit_sigmoid
from kiseki.evaluation.trajectory import DEFAULT_RULE, onset
from kiseki.report.queries import NotFound, Rows, curves, trajectory


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _by_category(item: tuple[tuple[str, str], Any]) -> tuple[str, str]:
    (run_id, category), _ = item
    return category, run_id


def at_equal_tokens(store: Store, run_ids: list[str], tokens: int, mode: str, window: int) -> Rows:
    """Per run and category: the score and its moving average at `tokens` (log-interpolated
    between the checkpoints around it; None outside a run's range)."""
    rows = trajectory(store, run_ids, mode=mode, window=window)
    by_curve: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_curve.setdefault((row["run_id"], row["category"]), []).append(row)
    return [
        {
            "run_id": run_id,
            "category": category,
            "tokens": tokens,
            "score": _rounded(at_tokens([(r["tokens_seen"], r["score"]) for r in members], tokens)),
            "score_ma": _rounded(
                at_tokens([(r["tokens_seen"], r["score_ma"]) for r in members], tokens)
            ),
        }
        for (run_id, category), members in sorted(
            by_curve.items(), key=lambda i: (i[0][1], i[0][0])
        )
    ]


def emergence(store: Store, run_ids: list[str], mode: str, window: int) -> Rows:
    """Per run: its categories in the order they rose above their baseline (the onset rule),
    those that have not yet last."""
    found = []
    for curve in curves(trajectory(store, run_ids, mode=mode, window=1)):
        if curve.category == "AVG" or curve.baseline is None:
            continue
        tokens = onset(curve.points, curve.baseline, DEFAULT_RULE.onset_margin, window)
        found.append((curve.run_id, tokens, curve.category))
    found.sort(key=lambda f: (f[0], f[1] is None, f[1] or 0, f[2]))
    ranks: dict[str, int] = {}
    rows = []
    for run_id, tokens, category in found:
        ranks[run_id] = ranks.get(run_id, 0) + 1
        rows.append(
            {"run_id": run_id, "rank": ranks[run_id], "category": category, "onset_tokens": tokens}
        )
    return rows


def predict(store: Store, run_id: str, category: str, tokens: int, mode: str) -> dict[str, Any]:
    """The category's score at `tokens` from a sigmoid fitted to its trajectory so far."""
    found = curves(trajectory(store, [run_id], category, mode, 1))
    if not found:
        raise NotFound(f"no {mode} scores of {category} in {run_id}")
    curve = found[0]
    fit = fit_sigmoid(curve.points)
    value, low, high = fit.predict(tokens)
    return {
        "run_id": run_id,
        "category": category,
        "tokens": tokens,
        "predicted": round(value, 4),
        "low": round(low, 4),
        "high": round(high, 4),
        "checkpoints": len(curve.points),
        "fit_low": round(fit.low, 4),
        "fit_high": round(fit.high, 4),
        "midpoint_tokens": round(10**fit.middle),
    }
