"""Which waiting checkpoint of a run goes first.

- `oldest` / `newest`: by step;
- `coarse-to-fine`: the log-spaced steps first (0, 1..9, 10..90, 100..900, ...), in step
  order, then always the step farthest, on the log axis, from every step evaluated or picked
  so far (it bisects the widest gap), so a run's whole trajectory shape is visible early and
  sharpens as spare capacity backfills it.
Picking is O(n log n) in the waiting steps: the gaps between picked steps sit in a heap.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
from collections.abc import Iterable, Sequence

ORDERS = ("oldest", "newest", "coarse-to-fine")


def is_log_spaced(step: int) -> bool:
    """The seed study's steps: every digit after the first is zero."""
    return step >= 0 and set(str(step)[1:]) <= {"0"}


def _x(step: int) -> float:
    return math.log10(1 + step)


def _best(candidates: Sequence[float], low: float | None, high: float | None) -> tuple[float, int]:
    """The candidate of a gap farthest from both ends, and its distance to the nearer end."""
    if low is None and high is None:
        return math.inf, len(candidates) - 1
    if low is None:
        return high - candidates[0], 0  # type: ignore[operator]
    if high is None:
        return candidates[-1] - low, len(candidates) - 1
    middle = bisect.bisect_left(candidates, (low + high) / 2)
    choices = [i for i in (middle - 1, middle) if 0 <= i < len(candidates)]
    return max((min(candidates[i] - low, high - candidates[i]), i) for i in choices)


def _bisecting(waiting: list[int], anchors: list[float]) -> list[int]:
    order: list[int] = []
    xs = [_x(s) for s in waiting]
    ends: list[float | None] = [None, *anchors, None]
    heap: list[tuple[float, int, int, int, float | None, float | None]] = []

    def push(start: int, stop: int, low: float | None, high: float | None) -> None:
        if start < stop:
            distance, index = _best(xs[start:stop], low, high)
            heapq.heappush(heap, (-distance, start, stop, start + index, low, high))

    for low, high in itertools.pairwise(ends):
        start = 0 if low is None else bisect.bisect_right(xs, low)
        stop = len(xs) if high is None else bisect.bisect_left(xs, high)
        push(start, stop, low, high)
    while heap:
        _, start, stop, pick, low, high = heapq.heappop(heap)
        order.append(waiting[pick])
        push(start, pick, low, xs[pick])
        push(pick + 1, stop, xs[pick], high)
    return order


def coarse_to_fine(waiting: Iterable[int], evaluated: Iterable[int] = ()) -> list[int]:
    """`waiting` in coarse-to-fine order, given the steps already `evaluated`."""
    steps = sorted(set(waiting))
    coarse = [s for s in steps if is_log_spaced(s)]
    fine = [s for s in steps if not is_log_spaced(s)]
    anchors = sorted({_x(s) for s in (*evaluated, *coarse) if s not in fine})
    return coarse + _bisecting(fine, anchors)


def ordered(order: str, waiting: Iterable[int], evaluated: Iterable[int] = ()) -> list[int]:
    if order == "coarse-to-fine":
        return coarse_to_fine(waiting, evaluated)
    return sorted(waiting, reverse=order == "newest")
