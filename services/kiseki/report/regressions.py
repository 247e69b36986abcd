"""Regressions and noise of a run, from the per-sample rows the store keeps.

Each (dataset, scoring mode) is judged on its main metric (the category map's for generation,
`acc` for log-likelihood). A checkpoint is compared with the previous one and with the best
so far on the samples both scored: a drop whose paired p-value is below `alpha` is a
regression, listed with the samples that flipped from right to wrong (or fell). Noise: a
bootstrap interval per checkpoint, and per dataset the spread of the score over the last `k`
checkpoints against the rise of the whole trajectory (signal-to-noise).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kiseki.core.store import Store
from kiseki.evaluation.significance import bootstrap_interval, paired_p_value
from kiseki.report.queries import Rows, require_runs

_VALUES_SQL = """
SELECT s.dataset AS dataset, s.scoring_mode AS scoring_mode, s.step AS step,
       s.checkpoint_id AS checkpoint_id, s.sample_index AS sample_index,
       s.metrics[multiIf(s.scoring_mode = 'loglikelihood', 'acc',
                         s.scoring_mode = 'gold', 'byte_likelihood', m.metric)] AS value
FROM sample_results AS s FINAL
INNER JOIN category_members AS m ON m.dataset = s.dataset
WHERE s.run_id = {run:String}
  AND ({dataset:String} = '' OR s.dataset = {dataset:String})
  AND ({mode:String} = '' OR s.scoring_mode = {mode:String})
  AND (empty({steps:Array(Int64)}) OR has({steps:Array(Int64)}, s.step))
  AND (empty({checkpoints:Array(String)}) OR s.checkpoint_id IN {checkpoints:Array(String)})
"""
SAMPLES_SQL = _VALUES_SQL + "ORDER BY dataset, scoring_mode, step, sample_index"
# Each step's score and the checkpoints scored at it, to pick the ones a new checkpoint is
# compared with without reading every sample of the run. Filtered by checkpoint (the
# table's key after the run), a query reads only those checkpoints' granules.
MEANS_SQL = f"""SELECT step, avg(value) AS score, groupUniqArray(checkpoint_id) AS checkpoints
FROM ({_VALUES_SQL}) GROUP BY step"""
SHOWN_FLIPS = 10
# The significance level of a reported drop, unless the caller names one.
ALPHA = 0.05


@dataclass
class Series:
    """One (dataset, mode): per step, sample index → value."""

    dataset: str
    mode: str
    steps: dict[int, dict[int, float]]

    def mean(self, step: int) -> float:
        values = self.steps[step].values()
        return sum(values) / len(values)


class StepMeans:
    """Per (run, dataset, mode): each step's score and its checkpoints, read whole the first
    time the triple is asked for and then one step at a time, so that checking a new
    checkpoint reads its samples and its references', not the run's (the sink keeps one)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], dict[int, tuple[float, frozenset[str]]]] = {}

    def refresh(
        self, store: Store, run_id: str, dataset: str, mode: str, step: int, checkpoint: str
    ) -> dict[int, tuple[float, frozenset[str]]]:
        """Every step's (score, checkpoints), `step`'s read again with `checkpoint` among its
        checkpoints (the whole triple when first asked for, or when `checkpoint` is empty)."""
        key = (run_id, dataset, mode)
        known = self._known.get(key)
        ids: list[str] = []
        if known is not None and checkpoint:
            ids = sorted(known.get(step, (0.0, frozenset[str]()))[1] | {checkpoint})
        params = {"run": run_id, "dataset": dataset, "mode": mode, "steps": [], "checkpoints": ids}
        fresh = {
            int(row["step"]): (float(row["score"]), frozenset(row["checkpoints"]))
            for row in store.query(MEANS_SQL, params)
        }
        if known is None or not ids:
            self._known[key] = fresh
            return fresh
        known.update(fresh)
        return known


def series(store: Store, run_id: str, dataset: str = "", mode: str = "") -> list[Series]:
    require_runs(store, [run_id])
    return _series(store, run_id, dataset, mode)


def _series(
    store: Store,
    run_id: str,
    dataset: str,
    mode: str,
    steps: Sequence[int] = (),
    checkpoints: Sequence[str] = (),
) -> list[Series]:
    """Every checkpoint's per-sample values, or those of `steps` (and `checkpoints`) only."""
    grouped: dict[tuple[str, str], dict[int, dict[int, float]]] = defaultdict(dict)
    params = {
        "run": run_id,
        "dataset": dataset,
        "mode": mode,
        "steps": list(steps),
        "checkpoints": list(checkpoints),
    }
    for row in store.query(SAMPLES_SQL, params):
        values = grouped[(row["dataset"], row["scoring_mode"])]
        values.setdefault(int(row["step"]), {})[int(row["sample_index"])] = float(row["value"])
    return [Series(d, m, values) for (d, m), values in sorted(grouped.items())]


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


def references(means: Mapping[int, float], step: int) -> list[tuple[str, int]]:
    """What `step` is compared with: the checkpoint before it, and the best one before it
    (the earliest of equals) unless that is the previous one."""
    earlier = [other for other in means if other < step]
    if not earlier:
        return []
    previous = max(earlier)
    best = max(earlier, key=lambda other: (means[other], -other))
    return [("previous", previous)] + ([("best", best)] if best != previous else [])


def _drops(s: Series, step: int, against: list[tuple[str, int]], alpha: float) -> Rows:
    rows = [_compare(s, step, kind, other) for kind, other in against]
    return [row for row in rows if row["delta"] < 0 and row["p_value"] < alpha]


def regressions(
    store: Store, run_id: str, dataset: str = "", mode: str = "", alpha: float = ALPHA
) -> Rows:
    """Every significant drop against the previous checkpoint or the best one so far."""
    found = []
    for s in series(store, run_id, dataset, mode):
        means = {step: s.mean(step) for step in s.steps}
        for step in sorted(s.steps):
            found += _drops(s, step, references(means, step), alpha)
    return found


def drops_at(
    store: Store,
    run_id: str,
    step: int,
    dataset: str,
    mode: str,
    alpha: float = ALPHA,
    known: StepMeans | None = None,
    checkpoint: str = "",
) -> Rows:
    """The rows `regressions` lists for one checkpoint, from the samples of that checkpoint
    and of those it is compared with: what the sink announces when `checkpoint` (at `step`)
    is scored. `known` carries the steps' scores from one call to the next."""
    steps = (known or StepMeans()).refresh(store, run_id, dataset, mode, step, checkpoint)
    means = {other: score for other, (score, _) in steps.items()}
    against = references(means, step)
    if step not in means or not against:
        return []
    wanted = [step, *(other for _, other in against)]
    ids = sorted(set[str]().union(*(steps[other][1] for other in wanted)))
    [s] = _series(store, run_id, dataset, mode, wanted, ids)
    return _drops(s, step, against, alpha)


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
