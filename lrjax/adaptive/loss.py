"""Rates that follow the training signal: scaled by the loss, or lowered when the gradient
stops changing."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import accepting_extra_args, tree_norm


def _scale(updates: optax.Updates, factor: jax.Array) -> optax.Updates:
    return jax.tree.map(lambda u: (factor * u).astype(u.dtype), updates)


class ScaleByLossState(NamedTuple):
    scale: jax.Array  # 1 / sqrt(1 + delta * loss) of the last update (1 before any)

    def applied_lr(self) -> jax.Array:
        return self.scale


@copies_arrays
@_checks.arguments(delta=_checks.NONNEGATIVE)
def scale_by_loss(delta: ArrayLike) -> optax.GradientTransformationExtraArgs:
    """Multiply the updates by ``1 / sqrt(1 + delta * loss)``, the loss given as ``value=``.

    Chained after an optimizer with rate η this is the loss-scaled rate
    ``η_t = η / sqrt(1 + δ L_t)``: large steps while the loss is small, damped while it is
    large. The argument of the root is floored at 1e-12, so a loss below -1/δ gives a large
    but finite factor; a NaN loss gives NaN updates (wrap in ``optax.apply_if_finite``).

    `delta` >= 0 may be traced.
    """
    _checks.nonnegative("delta", delta)

    def init(params):
        del params
        return ScaleByLossState(jnp.ones([], jnp.result_type(float)))

    def update(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError("scale_by_loss needs the loss: call update(..., value=loss)")
        arg = jnp.maximum(1 + delta * jnp.asarray(value, state.scale.dtype), 1e-12)
        scale = jax.lax.rsqrt(arg).astype(state.scale.dtype)
        return _scale(updates, scale), ScaleByLossState(scale)

    return optax.GradientTransformationExtraArgs(init, update)


class StallState(NamedTuple):
    norm_avg: jax.Array  # exponential average of the gradient norm (0 before any update)
    num_stalled: jax.Array  # int32 consecutive updates whose relative change was small
    cooldown: jax.Array  # int32 updates left before stalls count again
    scale: jax.Array  # the factor applied to the updates
    count: jax.Array  # int32 updates applied (saturating)

    def applied_lr(self) -> jax.Array:
        return self.scale


@copies_arrays
@_checks.arguments(
    factor=_checks.real(0, 1, open_high=True),
    patience=_checks.integer(1),
    threshold=_checks.NONNEGATIVE,
    decay=_checks.real(0, 1, open_high=True),
    cooldown=_checks.integer(0),
    min_scale=_checks.NONNEGATIVE,
)
def decay_on_gradient_stall(
    factor: ArrayLike = 0.5,
    patience: ArrayLike = 10,
    threshold: ArrayLike = 1e-3,
    *,
    decay: ArrayLike = 0.9,
    cooldown: ArrayLike = 0,
    min_scale: ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    """Lower the rate when the gradient stops changing.

    For each update with gradient norm n_t = ||g_t||:

        a_t = n_1 if t = 1 else decay · a_{t-1} + (1 - decay) · n_t
        stalled = |a_t - a_{t-1}| < threshold · a_{t-1}        (never on the first update)
        k = k + 1 if stalled else 0;   during a cooldown: cooldown - 1 and k = 0
        if k >= patience: scale = max(scale · factor, min_scale), cooldown = cooldown
                          steps, k = 0
        updates ← scale · updates

    A flat average norm means the optimizer is bouncing in a basin at a noise floor that
    only a smaller step can get below: the heuristic behind "decay when the loss or the
    gradient stops changing" (e.g. Lang, Xiao & Zhang, "Using statistics to automate
    stochastic optimization", NeurIPS 2019, which tests for stationarity instead). Every
    argument may be traced.

    A NaN gradient entry makes a_t, the factor and so every later update NaN (wrap the
    optimizer in ``optax.apply_if_finite`` to skip such steps); the norm itself does not
    overflow for entries of 1e30 in float32.
    """
    _checks.between("factor", factor, 0.0, 1.0, open_high=True)
    _checks.at_least("patience", patience, 1)
    _checks.nonnegative("threshold", threshold)
    _checks.between("decay", decay, 0.0, 1.0, open_high=True)
    _checks.nonnegative("cooldown", cooldown)
    _checks.nonnegative("min_scale", min_scale)

    def init(params):
        del params
        dtype = jnp.result_type(float)
        count = lambda: jnp.zeros([], jnp.int32)  # noqa: E731  (own buffers: states may be donated)
        return StallState(jnp.zeros([], dtype), count(), count(), jnp.ones([], dtype), count())

    def update(updates, state, params=None):
        del params
        # the norm of gradients of 1e30 is finite in float32 although their squares are not
        norm = tree_norm(updates).astype(state.norm_avg.dtype)
        first = state.count == 0
        avg = jnp.where(first, norm, decay * state.norm_avg + (1 - decay) * norm)
        change = jnp.abs(avg - state.norm_avg)
        stalled = ~first & (change < threshold * state.norm_avg)
        k = jnp.where(stalled, state.num_stalled + 1, 0)
        cooling = state.cooldown > 0
        left = jnp.where(cooling, state.cooldown - 1, 0)
        k = jnp.where(cooling, 0, k)
        reduce = k >= patience
        scale = jnp.where(reduce, jnp.maximum(state.scale * factor, min_scale), state.scale)
        # A NaN gradient makes the average NaN for good, and `change < ...` is then never
        # true: the stall test would stop, silently. The factor becomes NaN instead, so the
        # later updates show it, as a NaN in the other methods' state reaches theirs.
        scale = jnp.where(jnp.isnan(avg), avg, scale)
        new_state = StallState(
            avg.astype(state.norm_avg.dtype),
            jnp.where(reduce, 0, k).astype(jnp.int32),
            jnp.where(reduce, cooldown, left).astype(jnp.int32),
            scale.astype(state.scale.dtype),
            optax.safe_increment(state.count),
        )
        return _scale(updates, new_state.scale), new_state

    return accepting_extra_args(init, update)
