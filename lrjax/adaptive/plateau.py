"""Reduce the learning rate when a monitored metric stops improving."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import Pytree, copies_arrays, static

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


class PlateauState(NamedTuple):
    """State of a `ReduceOnPlateau` controller.

    best: the best metric so far (+inf in min mode, -inf in max mode before the first).
    num_bad: int32 consecutive non-improving steps.
    cooldown: int32 steps left in the cooldown after a reduction.
    lr: the current rate (``base_lr`` before any reduction).
    count: int32 number of metrics seen (saturating).
    """

    best: jax.Array
    num_bad: jax.Array
    cooldown: jax.Array
    lr: jax.Array
    count: jax.Array


@_checks.arguments(
    base_lr=_checks.NONNEGATIVE,
    factor=_checks.real(0, 1, open_high=True),
    patience=_checks.integer(0),
    threshold=_checks.NONNEGATIVE,
    cooldown=_checks.integer(0),
    min_lr=_checks.NONNEGATIVE,
    eps=_checks.NONNEGATIVE,
)
class ReduceOnPlateau(Pytree):
    """A pure controller: ``init()``, ``step(state, metric)``, ``lr(state)``.

    For each metric m (one call per evaluation, e.g. per epoch), in min mode:

        better = m < best - threshold · |best|     (rel)   or   m < best - threshold  (abs)
        if better: best = m, bad = 0, else: bad = bad + 1
        if cooldown > 0: cooldown = cooldown - 1, bad = 0
        if bad > patience:
            new = max(lr · factor, min_lr);  lr = new if lr - new > eps
            cooldown = cooldown_steps,  bad = 0

    (max mode: the comparisons flip). The first metric always improves, a NaN never does,
    and the first reduction comes after ``patience + 1`` bad steps. This is PyTorch's
    ``ReduceLROnPlateau`` except for the relative threshold, measured on ``|best|`` so that
    negative metrics behave like positive ones; ``signed_rel=True`` restores torch's
    ``best · (1 - threshold)`` (``lrjax.compat.torch.ReduceLROnPlateau`` sets it). With
    ``base_lr=1.0`` (the default) the controller yields a factor for `reduce_on_plateau`.

    Every numeric field may be a traced array (a sweep over ``factor`` or ``patience`` is
    one vmapped program); ``mode``, ``threshold_mode`` and ``signed_rel`` are static.

    Reference: PyTorch ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Examples:
        >>> c = ReduceOnPlateau(base_lr=0.1, factor=0.5, patience=1)
        >>> state = c.init()
        >>> for metric in [1.0, 0.9, 0.95, 0.95, 0.95]:  # stops improving after 0.9
        ...     state = c.step(state, metric)
        >>> round(float(c.lr(state)), 6)
        0.05
    """

    base_lr: ArrayLike = 1.0
    factor: ArrayLike = 0.1
    patience: ArrayLike = 10
    threshold: ArrayLike = 1e-4
    cooldown: ArrayLike = 0
    min_lr: ArrayLike = 0.0
    eps: ArrayLike = 1e-8
    mode: str = static("min")
    threshold_mode: str = static("rel")
    signed_rel: bool = static(False)

    def __post_init__(self):
        _checks.one_of("mode", self.mode, MODES)
        _checks.one_of("threshold_mode", self.threshold_mode, THRESHOLD_MODES)
        _checks.nonnegative("base_lr", self.base_lr)
        _checks.between("factor", self.factor, 0.0, 1.0, open_high=True)
        _checks.nonnegative("patience", self.patience)
        _checks.nonnegative("threshold", self.threshold)
        _checks.nonnegative("cooldown", self.cooldown)
        _checks.nonnegative("min_lr", self.min_lr)
        _checks.nonnegative("eps", self.eps)

    @property
    def dtype(self) -> jnp.dtype:
        return jnp.result_type(float, self.base_lr, self.factor, self.min_lr)

    def init(self) -> PlateauState:
        worst = jnp.inf if self.mode == "min" else -jnp.inf
        zero = lambda: jnp.zeros([], jnp.int32)  # noqa: E731  (own buffers: states may be donated)
        return PlateauState(
            jnp.asarray(worst, self.dtype),
            zero(),
            zero(),
            jnp.array(self.base_lr, self.dtype),  # a copy: base_lr may be an array
            zero(),
        )

    def _improves(self, metric: jax.Array, best: jax.Array) -> jax.Array:
        sign = 1 if self.mode == "min" else -1  # compare as "lower is better"
        m, b = sign * metric, sign * best
        thr = jnp.asarray(self.threshold, metric.dtype)
        if self.threshold_mode == "abs":
            margin = thr
        elif self.signed_rel:
            margin = best * thr  # torch: best * (1 - threshold), best * (1 + threshold) in max
        else:
            margin = jnp.abs(b) * thr
        # best = ±inf before the first metric, where the margin would be inf - inf = nan.
        return jnp.isinf(b) & ~jnp.isnan(m) | (m < b - jnp.where(jnp.isinf(b), 0, margin))

    def step(self, state: PlateauState, metric: ArrayLike) -> PlateauState:
        """Observe one metric and return the new state."""
        metric = jnp.asarray(metric, self.dtype)
        better = self._improves(metric, state.best)
        best = jnp.where(better, metric, state.best)
        bad = jnp.where(better, 0, state.num_bad + 1)
        cooling = state.cooldown > 0
        cooldown = jnp.where(cooling, state.cooldown - 1, state.cooldown)
        bad = jnp.where(cooling, 0, bad)
        reduce = bad > self.patience
        new = jnp.maximum(state.lr * self.factor, self.min_lr)
        lr = jnp.where(reduce & (state.lr - new > self.eps), new, state.lr)
        return PlateauState(
            best,
            jnp.where(reduce, 0, bad).astype(jnp.int32),
            jnp.where(reduce, self.cooldown, cooldown).astype(jnp.int32),
            lr.astype(state.lr.dtype),
            optax.safe_increment(state.count),
        )

    def lr(self, state: PlateauState) -> jax.Array:
        """The current rate."""
        return state.lr


class ReduceOnPlateauState(NamedTuple):
    plateau: PlateauState  # the controller, with lr the factor applied to the updates
    value_sum: jax.Array  # sum of the values seen in the current window
    count: jax.Array  # int32 updates applied (saturating)

    def applied_lr(self) -> jax.Array:
        return self.plateau.lr


@copies_arrays
@_checks.arguments(
    factor=_checks.real(0, 1, open_high=True),
    patience=_checks.integer(0),
    threshold=_checks.NONNEGATIVE,
    cooldown=_checks.integer(0),
    min_scale=_checks.NONNEGATIVE,
    eps=_checks.NONNEGATIVE,
    accumulation_size=_checks.integer(1),
)
def reduce_on_plateau(
    factor: ArrayLike = 0.1,
    patience: ArrayLike = 10,
    threshold: ArrayLike = 1e-4,
    *,
    mode: str = "min",
    threshold_mode: str = "rel",
    cooldown: ArrayLike = 0,
    min_scale: ArrayLike = 0.0,
    eps: ArrayLike = 1e-8,
    accumulation_size: ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
    """Scale the updates by a `ReduceOnPlateau` factor driven by ``value=`` (the loss).

    ``update(updates, state, params, value=loss)`` adds the value to a window; every
    `accumulation_size` updates the window's mean is one metric for the controller (which
    starts at 1.0 and is floored at `min_scale`), and the updates of that call and the
    following ones are multiplied by the controller's factor. Chained after an optimizer
    whose rate is a schedule, the effective rate is the scheduled rate times the factor,
    which `lrjax.applied_lr` reports. Unlike ``optax.contrib.reduce_on_plateau``, it lowers
    the rate for negative losses too, and every argument may be traced.
    """
    controller = ReduceOnPlateau(
        1.0, factor, patience, threshold, cooldown, min_scale, eps, mode, threshold_mode
    )
    _checks.positive("accumulation_size", accumulation_size)

    def init(params):
        del params
        plateau = controller.init()
        return ReduceOnPlateauState(
            plateau, jnp.zeros([], plateau.best.dtype), jnp.zeros([], jnp.int32)
        )

    def update(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError("reduce_on_plateau needs the loss: call update(..., value=loss)")
        total = state.value_sum + value
        count = optax.safe_increment(state.count)
        ready = count % accumulation_size == 0
        stepped = controller.step(state.plateau, total / accumulation_size)
        plateau = jax.tree.map(lambda a, b: jnp.where(ready, a, b), stepped, state.plateau)
        scale = plateau.lr
        updates = jax.tree.map(lambda u: (scale * u).astype(u.dtype), updates)
        value_sum = jnp.where(ready, 0, total).astype(state.value_sum.dtype)
        return updates, ReduceOnPlateauState(plateau, value_sum, count)

    return optax.GradientTransformationExtraArgs(init, update)
