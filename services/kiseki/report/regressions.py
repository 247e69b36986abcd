"""Regressions and noise of a run, from the per-sample rows the store keeps.

Each (dataset, scoring mode) is judged on its main metric (the category map's for generation,
`acc` for log-likelihood). A checkpoint is compared with the previous one and with the best
so far on the samples both scored: a drop whose paired p-value is below `alpha` is a
regression, listed with the samples that flipped from right to wrong (or fell). Noise: a
bootstrap interval per checkpoint, and per dataset the spread of the score over the last `k`
checkpoints against the rise of the whole trajectory (signal-to-noise).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from kiseki.core.store import Store
from kiseki.evaluation.significance import bootstrap_interval, paired_p_value
from kiseki.report.queries import Rows, require_runs

SAMPLES_SQL = """
SELECT s.dataset AS dataset, s.scoring_mode AS scoring_mode, s.step AS step,
       s.sample_index AS sample_index,
       s.metrics[multiIf(s.scoring_mode = 'loglikelihood', 'acc',
                         s.scoring_mode = 'gold', 'byte_likelihood', m.metric)] AS value
FROM sample_results AS s FINAL
INNER JOIN category_members AS m ON m.dataset = s.dataset
WHERE s.run_id = {run:String}
  AND ({dataset:String} = '' OR s.dataset = {dataset:String})
  AND ({mode:String} = '' OR s.scoring_mode = {mode:String})
ORDER BY dataset, scoring_mode, step, sample_index
"""
SHOWN_FLIPS = 10


@dataclass
class Series:
    """One (dataset, mode): per step, sample index → value."""

    dataset: str
    mode: str
    steps: dict[int, dict[int, float]]

    def mean(self, step: int) -> float:
        values = self.steps[step].values()
        return sum(values) / len(values)


def series(store: Store, run_id: str, dataset: str = "", mode: str = "") -> list[Series]:
    require_runs(store, [run_id])
    grouped: dict[tuple[str, str], dict[int, dict[int, float]]] = defaultdict(dict)
    params = {"run": run_id, "dataset": dataset, "mode": mode}
    for row in store.query(SAMPLES_SQL, params):
        steps = grouped[(row["dataset"], row["scoring_mode"])]
        steps.setdefault(int(row["step"]), {})[int(row["sample_index"])] = float(row["value"])
    return [Series(d, m, steps) for (d, m), steps in sorted(grouped.items())]


def _compare(s: Series, step: int, against: str, other: int) -> dict[str, Any]:
    now, then = s.steps[step], s.steps[other]
    common = sorted(now.keys() & then.keys())
    before, after = [then[i] for i in common], [now[i] for i in common]
    fell = [i for i in common if now[i] < then[i]]
    return {
        "dataset": s.dataset,
        "mode": s.mode,
        "step": step,
        "against": against,
        "against_step": other,
        "score": round(s.mean(step), 4),
        "against_score": round(s.mean(other), 4),
        "delta": round(sum(after) / len(common) - sum(before) / len(common), 4),
        "p_value": paired_p_value(before, after),
        "fell": len(fell),
        "fell_samples": ",".join(str(i) for i in fell[:SHOWN_FLIPS]),
    }


def regressions(
    store: Store, run_id: str, dataset: str = "", mode: str = "", alpha: float = 0.05
) -> Rows:
    """Every significant drop against the previous checkpoint or the best one so far."""
    found = []
    for s in series(store, run_id, dataset, mode):
        steps = sorted(s.steps)
        best = steps[0]
        for previous, step in itertools.pairwise(steps):
            for against, other in (("previous", previous), ("best", best)):
                if against == "best" and other == previous:
                    continue
                row = _compare(s, step, against, other)
                if row["delta"] < 0 and row["p_value"] < alpha:
                    found.append(row)
            best = step if s.mean(step) > s.mean(best) else best
    return found


def intervals(store: Store, run_id: str, dataset: str = "", mode: str = "") -> Rows:
    """Per (dataset, mode, checkpoint): the score and its 95 % bootstrap interval."""
    rows = []
    for s in series(store, run_id, dataset, mode):
        for step in sorted(s.steps):
            low, high = bootstrap_interval(list(s.steps[step].values()))
            score = round(s.mean(step), 4)
            rows.append(
                {
                    "dataset": s.dataset,
                    "mode": s.mode,
                    "step": step,
                    "score": score,
                    "ci_low": round(low, 4),
                    "ci_high": round(high, 4),
                }
            )
    return rows


def noise(store: Store, run_id: str, dataset: str = "", mode: str = "", last: int = 5) -> Rows:
    """Per (dataset, mode): the last checkpoint's interval, the spread over the last `last`
    checkpoints, the whole rise, and their ratio (signal-to-noise)."""
    rows = []
    for s in series(store, run_id, dataset, mode):
        steps = sorted(s.steps)
        scores = [s.mean(step) for step in steps]
        tail = scores[-last:]
        spread = statistics.pstdev(tail) if len(tail) > 1 else 0.0
        low, high = bootstrap_interval(list(s.steps[steps[-1]].values()))
        rise = max(scores) - scores[0]
        rows.append(
            {
                "dataset": s.dataset,
                "mode": s.mode,
                "checkpoints": len(steps),
                "last_score": round(scores[-1], 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "noise": round(spread, 4),
                "rise": round(rise, 4),
                "signal_to_noise": round(rise / spread, 2) if spread > 0 else None,
            }
        )
    return rows
