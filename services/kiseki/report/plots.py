"""PNG plots of category trajectories against training tokens on a log axis (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from kiseki.report.queries import Rows, curves


def _draw(axes: Axes, rows: Rows, colour: Any, label: str) -> None:
    """Raw scores faint, the moving average solid, the baseline dashed; checkpoints at 0
    tokens have no place on a log axis and are left out."""
    points = [r for r in rows if r["tokens_seen"] > 0]
    if not points:
        return
    tokens = [r["tokens_seen"] for r in points]
    axes.plot(tokens, [r["score"] for r in points], color=colour, alpha=0.3, marker=".", lw=0.8)
    axes.plot(tokens, [r["score_ma"] for r in points], color=colour, lw=2, label=label)
    baseline = points[0].get("baseline")
    if baseline is not None:
        axes.axhline(baseline, color=colour, ls="--", lw=1, label=f"{label} majority baseline")


def trajectory_plot(rows: Rows, out: Path, title: str, window: int) -> Path:
    """Every run in `rows` (one category) on one plot."""
    if not rows:
        raise ValueError("nothing to plot: no trajectory rows")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10")
    for index, run_id in enumerate(sorted({r["run_id"] for r in rows})):
        _draw(axes, [r for r in rows if r["run_id"] == run_id], colours(index % 10), run_id)
    _label(axes, title, f"score (moving average of {window})")
    return _save(figure, out)


def _shape_label(shape: dict[str, Any]) -> str:
    confidence = shape.get("confidence")
    return f"{shape['shape']} {confidence:.0%}" if confidence else str(shape["shape"])


def shapes_plot(rows: Rows, shapes: Sequence[dict[str, Any]], out: Path, window: int) -> Path:
    """One panel per category (every run in it), titled with each run's shape."""
    categories = sorted({c.category for c in curves(rows)}, key=lambda c: (c == "AVG", c))
    if not categories:
        raise ValueError("nothing to plot: no trajectory rows")
    columns = min(3, len(categories))
    lines = -(-len(categories) // columns)
    figure, grid = plt.subplots(lines, columns, figsize=(4 * columns, 3 * lines), squeeze=False)
    shape_of = {(s["run_id"], s["category"]): _shape_label(s) for s in shapes}
    colours = plt.get_cmap("tab10")
    runs = sorted({r["run_id"] for r in rows})
    for axes, category in zip(grid.flat, categories, strict=False):
        for index, run_id in enumerate(runs):
            members = [r for r in rows if r["run_id"] == run_id and r["category"] == category]
            _draw(axes, members, colours(index % 10), run_id)
        named = ", ".join(shape_of.get((run, category), "-") for run in runs)
        axes.set_title(f"{category}: {named}", fontsize=9)
        axes.set_xscale("log")
        axes.grid(alpha=0.3)
    for axes in list(grid.flat)[len(categories) :]:
        axes.set_visible(False)
    figure.supxlabel("training tokens")
    figure.supylabel(f"score (moving average of {window})")
    return _save(figure, out)


def interval_plot(rows: Rows, out: Path, title: str) -> Path:
    """Each (dataset, mode)'s score per step with its bootstrap interval as a band."""
    if not rows:
        raise ValueError("nothing to plot: no interval rows")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10")
    keys = sorted({(r["dataset"], r["mode"]) for r in rows})
    for index, (dataset, mode) in enumerate(keys):
        members = [r for r in rows if (r["dataset"], r["mode"]) == (dataset, mode)]
        steps = [r["step"] for r in members]
        colour = colours(index % 10)
        axes.plot(steps, [r["score"] for r in members], color=colour, label=f"{dataset} {mode}")
        low, high = [r["ci_low"] for r in members], [r["ci_high"] for r in members]
        axes.fill_between(steps, low, high, color=colour, alpha=0.2)
    _label(axes, title, "score (95 % bootstrap interval)", x="step")
    return _save(figure, out)


def following_plot(rows: Rows, out: Path, title: str) -> Path:
    """Per run, the following rate dotted and the score solid against training tokens (log
    axis), the majority baseline dashed."""
    if not rows:
        raise ValueError("nothing to plot: no following rows")
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab10")
    for index, run_id in enumerate(sorted({r["run_id"] for r in rows})):
        points = [r for r in rows if r["run_id"] == run_id and r["tokens_seen"] > 0]
        colour, tokens = colours(index % 10), [r["tokens_seen"] for r in points]
        axes.plot(tokens, [r["rate"] for r in points], color=colour, ls=":", label=f"{run_id} rate")
        scores = [r["score"] for r in points]
        axes.plot(tokens, scores, color=colour, lw=2, label=f"{run_id} score")
        if points and points[0]["baseline"] is not None:
            axes.axhline(
                points[0]["baseline"], color=colour, ls="--", lw=1, label=f"{run_id} baseline"
            )
    _label(axes, title, "following rate / score")
    return _save(figure, out)


def _label(axes: Axes, title: str, y: str, x: str = "training tokens") -> None:
    """Axis names, title, legend and grid; training tokens go on a log axis."""
    if x == "training tokens":
        axes.set_xscale("log")
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(title)
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)


def _save(figure: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)
    return out
