"""The report's figures, drawn from the space and the score alone.

- A map of the score over the two swept hyperparameters that matter most: each one's
  importance is how far apart the median ranks of its values (or of bins of a
  continuous one, log-spaced for a log-uniform dimension) lie, and the map shows the best
  score of each cell over the remaining dimensions.
- The score's metric over training for the best settings (its evaluations, or its
  per-step curve smoothed), and the learning rate each applied (`lrjax.applied_lr`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrjax.job.setting import label, swept
from lrjax.sweep import space as sp
from lrjax.sweep.result import SweepResult, ranking_key

SHOWN = 5
"""Settings drawn in the curve figures (the best ones)."""

MAX_COLUMNS = 12
"""A dimension with more distinct values than this is binned for the map."""


def sweep(job: Any, result: SweepResult, rows: list[dict], order: list[int]) -> list:
    """The figures of a search that kept every curve: the map, the score's curves, the
    learning rates."""
    figs = space_map(job, rows)
    figs += score_curves(job, result, rows, order)
    figs += rate_curves(job, result, rows, order)
    return figs


def importance(rows: Sequence[Mapping], dims: Mapping[str, sp.Spec], score: str, mode: str):
    """Each dimension's spread of median ranks over its groups (0: no effect, 1: one group
    holds the best settings and another the worst), and the groups: per dimension, the
    group index of every row and the group names."""
    keys = ranking_key([row[score] for row in rows], mode)
    keys = np.where(np.array([row["diverged"] for row in rows]), np.inf, keys)
    ranks = np.argsort(np.argsort(keys, kind="stable"), kind="stable") / max(1, len(rows) - 1)
    spread, groups = {}, {}
    for name, spec in dims.items():
        index, names = _groups([row[name] for row in rows], spec)
        medians = [np.median(ranks[index == g]) for g in range(len(names)) if (index == g).any()]
        spread[name] = float(max(medians) - min(medians)) if medians else 0.0
        groups[name] = (index, names)
    return spread, groups


def space_map(job: Any, rows: list[dict], note: str = "") -> list:
    """The score over the two swept dimensions that matter most (one, if only one is
    swept; none if nothing is)."""
    from lrjax import plot

    task, dims = job.task, swept(job.specs)
    if not dims or not rows:
        return []
    spread, groups = importance(rows, dims, task.score, task.mode)
    top = sorted(dims, key=lambda name: -spread[name])[:2]
    x = max(top, key=lambda name: len(groups[name][1]))  # the longer one across
    y = next((name for name in top if name != x), None)
    x_index, x_names = groups[x]
    y_index, y_names = groups[y] if y else (np.zeros(len(rows), int), [""])
    values = np.full((len(y_names), len(x_names)), np.nan)
    better = np.less if task.mode == "min" else np.greater
    for i, row in enumerate(rows):
        v = row[task.score]
        cell = (y_index[i], x_index[i])
        if not row["diverged"] and np.isfinite(v) and not better(values[cell], v):
            values[cell] = v
    others = [name for name in dims if name not in top]
    over = f", best over {', '.join(others)}" if others else ""
    title = f"{task.score}: {'lower' if task.mode == 'min' else 'higher'} is better"
    path = plot.table_map(
        job.out / "heatmap.png",
        values,
        columns=x_names,
        rows=y_names,
        xlabel=x,
        ylabel=y or "",
        title=title,
        label=task.score,
        mode=task.mode,
    )
    why = ", ".join(f"{name} {spread[name]:.2f}" for name in sorted(dims, key=lambda n: -spread[n]))
    caption = f"{task.score} over {x}{f' x {y}' if y else ''}{over}{f', {note}' if note else ''}"
    return [
        (
            f"{caption} (x: diverged or not sampled; the two hyperparameters whose values' "
            f"median ranks lie furthest apart: {why})",
            path,
        )
    ]


def score_curves(job: Any, result: SweepResult, rows: list[dict], order: list[int]) -> list:
    """The score's metric over training for the best settings."""
    from lrjax import plot
    from lrjax.finder import smooth

    task, dims = job.task, swept(job.specs)
    best = [i for i in order if not rows[i]["diverged"]][:SHOWN]
    if task.score in result.evals and result.evals[task.score].shape[1] > 1:
        series = {label(rows[i], dims): result.evals[task.score][i] for i in best}
        x, kind = np.asarray(result.eval_steps), "evaluated"
    elif task.score in result.curves:
        series = {label(rows[i], dims): smooth(result.curves[task.score][i], 0.9) for i in best}
        x, kind = None, "per step, smoothed (β = 0.9)"
    else:
        return []
    path = plot.curves(
        job.out / "score_curves.png",
        series,
        x=x,
        title=f"{task.score} of the {len(best)} best settings ({kind})",
        ylabel=task.score,
    )
    return [(f"{task.score} over training, best settings", path)]


def rate_curves(job: Any, result: SweepResult, rows: list[dict], order: list[int]) -> list:
    """The learning rate the best settings applied at each step (where the carry holds
    an lrjax optimizer state to read it from)."""
    from lrjax import plot

    dims = swept(job.specs)
    best = [i for i in order if np.isfinite(result.lrs[i]).any()][:SHOWN]
    if not best:
        return []
    path = plot.curves(
        job.out / "lr_curves.png",
        {label(rows[i], dims): result.lrs[i] for i in best},
        title="learning rate applied at each step (best settings)",
        ylabel="learning rate",
        log=True,
    )
    return [("Learning rates of the best settings", path)]


def _groups(values: Sequence[Any], spec: sp.Spec) -> tuple[np.ndarray, list[str]]:
    """Group index per value and the group names: every distinct value (few, or a
    choice), else 3 to 8 bins of equal width (in log for a log-uniform dimension), about
    sqrt(n / 2) for n settings so that a map of two binned dimensions holds about two
    settings per cell."""
    distinct = list(dict.fromkeys(values))  # names: in the order first met
    if not any(isinstance(v, str) for v in distinct):
        distinct = sorted(distinct)
    if isinstance(spec, sp.choice) or len(distinct) <= MAX_COLUMNS:
        where = {v: k for k, v in enumerate(distinct)}
        return np.array([where[v] for v in values]), [_short(v) for v in distinct]
    log = isinstance(spec, sp.log_uniform)
    x = np.log(np.asarray(values, np.float64)) if log else np.asarray(values, np.float64)
    bins = int(np.clip(np.sqrt(len(values) / 2), 3, 8))  # about two settings per map cell
    edges = np.linspace(x.min(), x.max(), bins + 1)
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    centres = (edges[:-1] + edges[1:]) / 2
    return index, [_short(np.exp(c) if log else c) for c in centres]


def _short(value: Any) -> str:
    return value if isinstance(value, str) else f"{value:.3g}"
