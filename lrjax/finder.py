"""The learning-rate range test: train while the rate grows, read a good rate off the loss.

Two forms. `range_test` is the sequential sweep of Smith (2017) as fastai and
torch-lr-finder run it: one training run whose rate grows exponentially (or linearly)
from `start_lr` to `end_lr`, the loss smoothed by an exponential average, stopped when the
smoothed loss exceeds `diverge_th` times the best so far. `parallel_range_test` trains K
copies at K fixed log-spaced rates for a short horizon in one vmapped program. Both
return a `RangeTest`; the suggestion rules are plain NumPy functions of (lrs, losses).

References: L. N. Smith, "Cyclical learning rates for training neural networks", WACV
2017; fastai ``LRFinder`` and ``lr_find`` (valley, slide, minimum, steep);
torch-lr-finder 0.2.2 ``LRFinder.range_test`` and its steepest-gradient suggestion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _checks
from lrjax.schedules import Schedule, from_fn


class RangeTest(NamedTuple):
    """What a range test recorded, up to and including the point where it stopped."""

    lrs: np.ndarray  # the rate of each recorded step
    losses: np.ndarray  # the raw losses
    smoothed: np.ndarray  # the smoothed losses
    stop_index: int | None  # the step that diverged (the last recorded), or None
    best_loss: float  # the best smoothed value (the smallest; the largest when mode="max")
    mode: str = "min"  # "max": the recorded metric is maximised (a return, an accuracy)


@_checks.arguments(start_lr=_checks.POSITIVE, end_lr=_checks.POSITIVE, num=_checks.integer(2))
def lr_grid(
    start_lr: float, end_lr: float, num: int, *, mode: str = "exp", endpoint: bool = True
) -> np.ndarray:
    """The rates of a sweep: ``start·(end/start)^(i/d)`` (exp) or ``start + (end-start)·i/d``
    (linear) for i < num, with d = num - 1 when `endpoint` (torch-lr-finder) else num
    (fastai, which never reaches `end_lr`).

    Examples:
        >>> lr_grid(1e-3, 1.0, 4).round(6).tolist()
        [0.001, 0.01, 0.1, 1.0]
        >>> lr_grid(1e-3, 1.0, 3, endpoint=False).round(6).tolist()
        [0.001, 0.01, 0.1]
    """
    _checks.positive("start_lr", start_lr)
    _checks.ordered("start_lr", start_lr, "end_lr", end_lr)
    _checks.at_least("num", num, 2)
    _checks.one_of("mode", mode, ("exp", "linear"))
    frac = np.arange(num) / (num - 1 if endpoint else num)
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** frac
    return start_lr + (end_lr - start_lr) * frac


def smooth(losses: np.ndarray, beta: float = 0.98, *, debias: bool = True) -> np.ndarray:
    """Exponential smoothing of a loss sequence.

    ``debias=True`` (fastai's ``AvgSmoothLoss``): v_i = β v_{i-1} + (1-β) l_i from v = 0,
    reported as v_i / (1 - β^(i+1)). ``debias=False`` (torch-lr-finder with
    ``smooth_f = 1 - β``): s_0 = l_0, s_i = (1-β) l_i + β s_{i-1}.

    Examples:
        >>> smooth([1.0, 1.0, 1.0], beta=0.9).round(6).tolist()  # debiased: no bias to 0
        [1.0, 1.0, 1.0]
        >>> smooth([1.0, 1.0, 1.0], beta=0.9, debias=False).round(6).tolist()
        [1.0, 1.0, 1.0]
    """
    _checks.between("beta", beta, 0.0, 1.0, open_high=True)
    out = np.empty(len(losses))
    value = 0.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf losses after divergence
        for i, loss in enumerate(losses):
            if debias:
                value = loss + beta * (value - loss)  # torch.lerp(loss, value, beta)
                out[i] = value / (1 - beta ** (i + 1))
            else:
                value = loss if i == 0 else (1 - beta) * loss + beta * value
                out[i] = value
    return out


def divergence_index(smoothed: np.ndarray, diverge_th: float, mode: str = "min") -> int | None:
    """The first step whose smoothed value is ``diverge_th`` times worse than the best so
    far (that step included), or is not finite; None if there is none.

    "Times worse" for a loss b > 0 (fastai's and torch-lr-finder's rule) is above
    ``diverge_th * b``. For values of either sign it is read on ``v`` = the value
    (``mode="min"``) or minus the value (``"max"``, a return), lower being better: with
    ``b`` the best ``v`` so far, worse than ``diverge_th * b`` when b > 0 and than
    ``b / diverge_th`` when b <= 0. A return that peaked at 400 therefore diverges below
    100, where ``-return > 4 * best`` would never fire (and a cut at ``4 x`` a negative
    best would fire at once)."""
    _checks.one_of("mode", mode, ("min", "max"))
    v = np.asarray(smoothed, np.float64) * (1 if mode == "min" else -1)
    best = np.minimum.accumulate(np.where(np.isfinite(v), v, np.inf))
    with np.errstate(invalid="ignore"):
        limit = np.where(best > 0, diverge_th * best, best / diverge_th)
        bad = ~np.isfinite(v) | (v > limit)
    hits = np.flatnonzero(bad)
    return int(hits[0]) if len(hits) else None


def record(
    lrs: np.ndarray,
    raw: np.ndarray,
    *,
    beta: float,
    debias: bool,
    diverge_th: float | None,
    mode: str = "min",
) -> RangeTest:
    """Smooth `raw` and cut it after the divergence point (if `diverge_th` is given);
    ``mode="max"`` for a metric that is maximised (see `divergence_index`)."""
    smoothed = smooth(np.asarray(raw, np.float64), beta, debias=debias)
    stop = None if diverge_th is None else divergence_index(smoothed, diverge_th, mode)
    n = len(raw) if stop is None else stop + 1
    finite = smoothed[:n][np.isfinite(smoothed[:n])]
    pick = np.min if mode == "min" else np.max
    best = float(pick(finite)) if len(finite) else float("nan")
    return RangeTest(np.asarray(lrs)[:n], np.asarray(raw)[:n], smoothed[:n], stop, best, mode)


# --------------------------------------------------------------------------------------
# Suggestions: functions of (lrs, losses); each returns (lr, index into lrs).


def steepest(lrs, losses, skip_start: int = 10, skip_end: int = 5) -> tuple[float, int]:
    """torch-lr-finder: the steepest point of ``np.gradient`` of the losses (per step, so
    per log-rate on an exponential grid), skipping the ends."""
    trimmed = np.asarray(losses)[skip_start : len(losses) - skip_end]
    idx = skip_start + int(np.argmin(np.gradient(trimmed)))
    return float(lrs[idx]), idx


def steep(lrs, losses) -> tuple[float, int]:
    """fastai ``steep``: the left end of the segment with the most negative
    Δloss / Δlog(lr)."""
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    idx = int(np.argmin(np.diff(losses) / np.diff(np.log(lrs))))
    return float(lrs[idx]), idx


def minimum(lrs, losses) -> tuple[float, int]:
    """fastai ``minimum``: one tenth of the rate at the smallest loss."""
    idx = int(np.argmin(losses))
    return float(lrs[idx]) / 10, idx


def valley(lrs, losses) -> tuple[float, int]:
    """fastai ``valley`` (ESRI): the longest decreasing subsequence of the losses (by
    dynamic programming) ends at ``max_end``; with L its length in steps the suggestion
    is the point ``max_start + int(L/3) + int(L/6)`` in, about the middle of the valley."""
    n = len(losses)
    longest = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[max_end] < longest[i]:
                max_end = i
                max_start = max_end - longest[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx]), idx


def slide(
    lrs, losses, lr_diff: int = 15, thresh: float = 0.005, adjust_value: float = 1.0
) -> tuple[float, int]:
    """fastai ``slide`` (Novetta): walk left from the end while the loss gradients
    ``lr_diff`` points apart differ by more than `thresh`; returns the rate and the
    final (negative) left index of the window, as fastai computes them."""
    grad = np.gradient(np.asarray(losses, np.float64))
    right, left = -1, -1 - lr_diff
    local = lrs[left]
    while left >= -len(losses) and abs(grad[right] - grad[left]) > thresh:
        local = lrs[left]
        right -= 1
        left -= 1
    return float(local) * adjust_value, left


SUGGESTIONS = {"valley": valley, "steep": steep, "minimum": minimum, "slide": slide}


def suggest(
    result: RangeTest, rule: str = "valley", skip_start: int | None = None, skip_end: int = 5
) -> float:
    """A suggested rate from a range test: the recorded points up to the first
    non-finite (smoothed) loss, without the first ``skip_start`` (default: a tenth of
    them, as fastai; 10 for ``rule="steepest"``, as torch-lr-finder) and the last
    `skip_end`, given to `rule`. A maximised metric (``result.mode == "max"``) is
    negated first, so every rule reads lower as better.

    The skips suit a sequential test of a hundred or more steps. For a parallel test of a
    few dozen rates pass ``skip_start=0, skip_end=0``, and prefer "minimum" or "steepest":
    its scores fall from the first rate on, which the valley rule reads as one long
    valley starting too low."""
    _checks.one_of("rule", rule, {*SUGGESTIONS, "steepest"})
    lrs, losses = np.asarray(result.lrs), np.asarray(result.smoothed)
    if result.mode == "max":  # the rules read a loss: lower is better
        losses = -losses
    bad = np.flatnonzero(~np.isfinite(losses))
    if len(bad):  # a diverged point (a parallel test's inf score) ends the usable range
        lrs, losses = lrs[: bad[0]], losses[: bad[0]]
    if rule == "steepest":
        start = 10 if skip_start is None else skip_start
        if len(lrs) - start - skip_end < 2:
            raise ValueError(f"too few usable points ({len(lrs)}) for a suggestion; record more")
        return steepest(lrs, losses, start, skip_end)[0]
    start = len(result.lrs) // 10 if skip_start is None else skip_start
    lrs, losses = lrs[start : len(lrs) - skip_end], losses[start : len(losses) - skip_end]
    if len(lrs) < 2:
        raise ValueError(f"too few usable points ({len(lrs)}) for a suggestion; record more")
    return SUGGESTIONS[rule](lrs, losses)[0]


# --------------------------------------------------------------------------------------
# Running the test


def _lookup(k, table):
    return table[jnp.minimum(k, table.shape[0] - 1)]


def _losses(loss_fn, opt: optax.GradientTransformation, params: Any, batches: Any) -> jax.Array:
    """Train from ``params``, one update per batch; the loss before each update."""

    def step(carry, batch):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, batch)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), loss

    return jax.lax.scan(step, (params, opt.init(params)), batches)[1]


@_checks.arguments(
    start_lr=_checks.POSITIVE,
    end_lr=_checks.POSITIVE,
    beta=_checks.real(0, 1, open_high=True),
    diverge_th=_checks.real(0, open_low=True, optional=True),
)
def range_test(
    loss_fn: Callable[[Any, Any], jax.Array],
    optimizer: Callable[[Schedule], optax.GradientTransformation],
    params: Any,
    batches: Any,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    mode: str = "exp",
    endpoint: bool = False,
    beta: float = 0.98,
    debias: bool = True,
    diverge_th: float | None = 4.0,
) -> RangeTest:
    """The sequential range test as one jitted `lax.scan`.

    `optimizer(schedule)` builds the optimizer (for example ``lambda lr: lrjax.sgd(lr,
    0.9)``); its rate is the sweep ``lr_grid(start_lr, end_lr, num, mode, endpoint)``
    where num is the leading size of `batches` (one batch per step). Update i uses rate
    i and records the loss at the params before it. The defaults are fastai's (debiased
    smoothing with β = 0.98, stop at 4x the best, a grid that stops short of `end_lr`);
    torch-lr-finder's are ``endpoint=True, debias=False, beta=0.95, diverge_th=5``.
    Every step runs; points after the divergence are dropped from the result (the
    run's later losses never affect the earlier ones). Nothing is plotted.
    """
    num = jax.tree.leaves(batches)[0].shape[0]
    lrs = lr_grid(start_lr, end_lr, num, mode=mode, endpoint=endpoint)
    table = jnp.asarray(lrs)
    opt = optimizer(from_fn(_lookup, {"table": table}))

    run = jax.jit(lambda p, b: _losses(loss_fn, opt, p, b))
    raw = np.asarray(run(params, batches), np.float64)
    return record(lrs, raw, beta=beta, debias=debias, diverge_th=diverge_th)


@_checks.arguments(
    lrs=_checks.real(0, open_low=True, optional=True, shape="vector"),
    tail=_checks.real(0, 1, open_low=True),
    diverge_th=_checks.POSITIVE,
)
def parallel_range_test(
    loss_fn: Callable[[Any, Any], jax.Array],
    optimizer: Callable[[jax.Array], optax.GradientTransformation],
    params: Any,
    batches: Any,
    lrs: np.ndarray | None = None,
    *,
    tail: float = 0.25,
    diverge_th: float = 4.0,
) -> RangeTest:
    """Train one copy per rate in `lrs` (default 32 rates from 1e-6 to 1, log-spaced) on
    the same `batches` (leading axis: steps) in one vmapped program, and score each by its
    mean loss over the last `tail` fraction of the steps.

    A copy whose loss is not finite or ends above ``diverge_th`` times its first loss is
    marked diverged (inf). The result's ``smoothed`` holds the scores, so `suggest` works
    on it as on a sequential test; ``stop_index`` is the first diverged rate.
    """
    lrs = np.geomspace(1e-6, 1.0, 32) if lrs is None else np.asarray(lrs, np.float64)
    _checks.between("tail", tail, 0.0, 1.0, open_low=True)

    def train(lr):
        return _losses(loss_fn, optimizer(lr), params, batches)

    losses = np.asarray(jax.jit(jax.vmap(train))(jnp.asarray(lrs, jnp.float32)), np.float64)
    n_tail = max(1, int(round(tail * losses.shape[1])))
    with np.errstate(invalid="ignore", over="ignore"):
        score = losses[:, -n_tail:].mean(axis=1)
    diverged = ~np.all(np.isfinite(losses), axis=1) | (score > diverge_th * losses[:, 0])
    score = np.where(diverged, np.inf, score)
    bad = np.flatnonzero(diverged)
    stop = int(bad[0]) if len(bad) else None
    finite = score[np.isfinite(score)]
    best = float(finite.min()) if len(finite) else float("nan")
    return RangeTest(lrs, losses[:, -1], score, stop, best)
