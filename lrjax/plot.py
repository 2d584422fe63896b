"""Plots of sweeps and range tests, written as PNG files.

Host-side only: each function takes NumPy arrays, draws one figure with matplotlib's
object API (no pyplot state, no display needed) and saves it. matplotlib is imported when
a function is called, so ``import lrjax`` does not need it (install ``lrjax[plot]``).
Learning rates are drawn on log axes, and losses too when they span more than a decade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _figure(width: float = 7.0, height: float = 4.5, **subplots):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'lrjax[plot]'") from e
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(**subplots)


def _log_if_wide(ax, values: np.ndarray, axis: str = "y") -> None:
    """Log scale when the positive finite values span more than a decade."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) and v.max() > 10 * v.min():
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


def curves(
    path: str | Path,
    series: Mapping[str, np.ndarray],
    *,
    x: np.ndarray | None = None,
    title: str,
    xlabel: str = "step",
    ylabel: str,
    log: bool | None = None,
) -> Path:
    """One line per entry of ``series`` (label -> values) against ``x`` (default: step
    0, 1, ...). ``log``: log y axis (default: when the values span more than a decade)."""
    fig, ax = _figure()
    for label, y in series.items():
        y = np.asarray(y, np.float64)
        ax.plot(np.arange(len(y)) if x is None else x, y, label=label, lw=1.5)
    if log:
        ax.set_yscale("log")
    elif log is None and series:
        _log_if_wide(ax, np.concatenate([np.ravel(v) for v in series.values()]))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    if series:
        ax.legend(fontsize="small", ncols=2 if len(series) > 6 else 1)
    return _save(fig, path)


def loss_curves(
    path: str | Path,
    train: Mapping[str, np.ndarray],
    val: Mapping[str, np.ndarray],
    val_steps: np.ndarray,
    *,
    title: str,
    smoothing: float = 0.95,
) -> Path:
    """Training loss (exponentially smoothed, debiased, raw behind it) and validation
    loss, side by side, one line per label; shared log y axis when the losses span more
    than a decade."""
    from lrjax.finder import smooth

    fig, (left, right) = _figure(11.0, 4.5, ncols=2, sharey=True)
    colors = {}
    for label, y in train.items():
        y = np.asarray(y, np.float64)
        (line,) = left.plot(smooth(y, smoothing), label=label, lw=1.5)
        colors[label] = line.get_color()
        left.plot(y, color=line.get_color(), alpha=0.15, lw=0.8)
    for label, y in val.items():
        right.plot(val_steps, y, "o-", ms=3, label=label, color=colors.get(label))
    everything = [np.ravel(v) for v in (*train.values(), *val.values())]
    if everything:
        _log_if_wide(left, np.concatenate(everything))
    left.set(title=f"training loss (smoothed, β={smoothing})", xlabel="step", ylabel="loss")
    right.set(title="validation loss", xlabel="step")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize="small")
    fig.suptitle(title)
    return _save(fig, path)


def heatmap(
    path: str | Path,
    values: np.ndarray,
    *,
    lrs: np.ndarray,
    rows: Sequence[str],
    panels: Sequence[str],
    title: str,
    label: str,
) -> Path:
    """``values[p, r, c]``: one panel per entry of ``panels``, rows named by ``rows``,
    columns at learning rates ``lrs`` (labelled in scientific notation). Colours follow
    log(value); the best cell of each panel is outlined; NaN cells (diverged or never
    run) are grey and marked "x"."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    values = np.asarray(values, np.float64)
    n = len(panels)
    cols = min(n, 2)
    fig, axes = _figure(
        6.0 * cols,
        0.9 + 0.45 * len(rows) * -(-n // cols),
        nrows=-(-n // cols),
        ncols=cols,
        squeeze=False,
    )
    finite = values[np.isfinite(values) & (values > 0)]
    norm = LogNorm(finite.min(), finite.max()) if len(finite) else None
    cmap = colormaps["viridis_r"].with_extremes(bad="0.85")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    image = None
    for k, (ax, name) in enumerate(zip(axes.ravel(), panels, strict=False)):
        v = values[k]
        image = ax.imshow(np.where(np.isfinite(v), v, np.nan), cmap=cmap, norm=norm, aspect="auto")
        for (i, j), value in np.ndenumerate(v):
            dark = norm is not None and np.isfinite(value) and norm(value) > 0.6
            text = _short(value)
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="w" if dark else "k")
        if np.isfinite(v).any():
            i, j = np.unravel_index(np.nanargmin(np.where(np.isfinite(v), v, np.nan)), v.shape)
            ax.add_patch(_outline(i, j))
        ax.set_xticks(range(len(lrs)), [f"{lr:.0e}" for lr in lrs], rotation=45, fontsize=7)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set(title=name, xlabel="peak learning rate (log-spaced)")
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label=label, shrink=0.8)
    fig.suptitle(title)
    return _save(fig, path)


def _short(value: float) -> str:
    """At most four characters: 0.14, 2.3, 15, 180, 2e+03, x (not finite)."""
    if not np.isfinite(value):
        return "x"
    if value >= 1000:
        return f"{value:.0e}"
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _outline(i: int, j: int):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2)


def range_test(
    path: str | Path,
    lrs: np.ndarray,
    losses: np.ndarray,
    smoothed: np.ndarray,
    suggestions: Mapping[str, float],
    *,
    title: str,
    ylabel: str = "training loss",
    mode: str = "min",
) -> Path:
    """A metric against learning rate (log x): the raw values faint, the smoothed curve
    on top, and a vertical line at each suggested rate. A loss (``mode="min"``) is cut
    at 4x its first value, so a divergence does not flatten the rest."""
    fig, ax = _figure()
    ax.plot(lrs, losses, color="0.6", lw=0.8, alpha=0.6, label=ylabel)
    ax.plot(lrs, smoothed, color="C0", lw=2, label="smoothed")
    finite = smoothed[np.isfinite(smoothed)]
    raw = losses[np.isfinite(losses)]
    for k, (name, lr) in enumerate(suggestions.items()):
        ax.axvline(lr, color=f"C{k + 1}", ls="--", lw=1.5, label=f"{name}: {lr:.2e}")
        at = np.interp(np.log(lr), np.log(lrs[: len(smoothed)]), smoothed)
        ax.plot([lr], [at], "o", color=f"C{k + 1}")
    ax.set_xscale("log")
    if len(finite) and mode == "min":
        low, high = min(finite.min(), raw.min()), finite.max()
        ax.set_ylim(low - 0.05 * (high - low), min(high, 4 * finite[0]) + 0.05 * (high - low))
    ax.set(title=title, xlabel="learning rate", ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def history(
    path: str | Path, values: np.ndarray, *, title: str, ylabel: str, mode: str = "min"
) -> Path:
    """An optimization history: each finished trial's value (points, in trial order) and
    the best so far (a step line, the running minimum, or maximum for ``mode="max"``);
    log y when the values span more than a decade."""
    values = np.asarray(values, np.float64)
    fig, ax = _figure()
    trials = np.arange(1, len(values) + 1)
    finite = np.where(np.isfinite(values), values, np.nan)
    ax.plot(trials, finite, "o", ms=3, alpha=0.6, label="trial")
    worst = np.inf if mode == "min" else -np.inf
    running = np.fmin if mode == "min" else np.fmax
    best = running.accumulate(np.where(np.isfinite(values), values, worst))
    ax.step(
        trials, np.where(np.isfinite(best), best, np.nan), where="post", lw=2, label="best so far"
    )
    _log_if_wide(ax, finite)
    ax.set(title=title, xlabel="trial", ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def paths(
    path: str | Path,
    x: np.ndarray,
    values: np.ndarray,
    *,
    highlight: np.ndarray,
    label: str,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Many members' paths and one highlighted: ``values[i]`` is member i's value at each
    ``x`` (NaN where it was no longer running), drawn thin and grey, and ``highlight`` (a
    path of the same length) bold under ``label``. Log y when the values span more than a
    decade. For successive halving (loss at each rung) and PBT (a hyperparameter over
    segments)."""
    values = np.asarray(values, np.float64)
    fig, ax = _figure()
    shown = np.where(np.isfinite(values), values, np.nan)
    ax.plot(x, shown.T, color="0.55", lw=0.7, alpha=0.5, marker=".", ms=2)
    ax.plot(x, highlight, color="C3", lw=2.2, marker="o", ms=4, label=label)
    _log_if_wide(ax, np.concatenate([shown.ravel(), np.ravel(highlight)]))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def table_map(
    path: str | Path,
    values: np.ndarray,
    *,
    columns: Sequence[str],
    rows: Sequence[str],
    xlabel: str,
    ylabel: str,
    title: str,
    label: str,
    mode: str = "min",
) -> Path:
    """``values[r, c]`` as coloured cells with their numbers: columns named by
    ``columns`` (x), rows by ``rows`` (y); the best cell (the smallest, or the largest
    for ``mode="max"``) outlined; NaN cells (diverged or never run) grey and marked "x".
    The colour runs from worst (light) to best (dark) on a log scale when the values are
    positive and span more than a decade."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    values = np.asarray(values, np.float64)
    fig, ax = _figure(max(5.0, 1.0 + 0.55 * len(columns)), 1.6 + 0.4 * len(rows))
    finite = values[np.isfinite(values)]
    norm = None
    if len(finite):
        wide = finite.min() > 0 and finite.max() > 10 * finite.min()
        norm = (LogNorm if wide else Normalize)(finite.min(), finite.max())
    cmap = colormaps["viridis_r" if mode == "min" else "viridis"].with_extremes(bad="0.85")
    image = ax.imshow(
        np.where(np.isfinite(values), values, np.nan), cmap=cmap, norm=norm, aspect="auto"
    )
    for (i, j), value in np.ndenumerate(values):
        dark = norm is not None and np.isfinite(value)
        dark = dark and (norm(value) > 0.6 if mode == "min" else norm(value) < 0.4)
        ax.text(
            j, i, _short(value), ha="center", va="center", fontsize=6.5, color="w" if dark else "k"
        )
    if len(finite):
        shown = np.where(np.isfinite(values), values, np.nan)
        pick = np.nanargmin if mode == "min" else np.nanargmax
        ax.add_patch(_outline(*np.unravel_index(pick(shown), values.shape)))
    ax.set_xticks(range(len(columns)), columns, rotation=45, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    return _save(fig, path)
