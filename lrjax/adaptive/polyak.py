"""The Polyak step size: the rate that would reach the optimal loss along the gradient."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    check_rate,
    scale_by_learning_rate,
    tree_sum,
)

# optax compares |g|² + eps with the float64 machine epsilon (``jnp.finfo(float).eps``),
# whatever the dtype; below it the step is 0.
_TINY = float(np.finfo(np.float64).eps)


class PolyakState(NamedTuple):
    step: jax.Array  # min(gap / (|g|² + eps), max_learning_rate) of the last update (0 before)

    def applied_lr(self) -> jax.Array:
        return self.step


@copies_arrays
@_checks.arguments(
    f_min=_checks.FINITE,
    max_learning_rate=_checks.NONNEGATIVE,
    eps=_checks.NONNEGATIVE,
)
def scale_by_polyak(
    f_min: ArrayLike = 0.0,
    max_learning_rate: ArrayLike = 1.0,
    eps: ArrayLike = 0.0,
    variant: str = "sps",
) -> optax.GradientTransformationExtraArgs:
    """Multiply the gradient by the Polyak step size, the loss given as ``value=``:

        gap = f(x) - f_min   (max(gap, 0) for ``variant="sps+"``)
        γ = min(gap / (|g|² + eps), max_learning_rate),  0 where |g|² + eps ≤ 2.2e-16

    |g|² runs over the whole tree (|z|² for complex leaves). Not sign-flipped (see
    `polyak_sgd`); as ``optax.scale_by_polyak``, with the same argument order.
    """
    _checks.one_of("variant", variant, {"sps", "sps+"})

    def init(params):
        del params
        return PolyakState(jnp.zeros([], jnp.result_type(float)))

    def update(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError("polyak needs the loss: call update(..., value=loss)")
        dtype = state.step.dtype

        def wide(x):
            return x.astype(jnp.promote_types(x.dtype, dtype))

        sq = tree_sum(lambda g: abs_sq(wide(g)), updates).astype(dtype) + jnp.asarray(eps, dtype)
        gap = jnp.asarray(value, dtype) - jnp.asarray(f_min, dtype)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0)
        step = jnp.minimum(gap / sq, jnp.asarray(max_learning_rate, dtype))
        step = jnp.where(sq <= _TINY, jnp.zeros([], dtype), step)
        out = jax.tree.map(lambda g: (step * wide(g)).astype(g.dtype), updates)
        return out, PolyakState(step)

    return optax.GradientTransformationExtraArgs(init, update)


@copies_arrays
@_checks.arguments(
    max_learning_rate=_checks.NONNEGATIVE,
    scaling=_checks.RATE,
    f_min=_checks.FINITE,
    eps=_checks.NONNEGATIVE,
)
def polyak_sgd(
    max_learning_rate: ArrayLike = 1.0,
    scaling: Hyper = 1.0,
    f_min: ArrayLike = 0.0,
    eps: ArrayLike = 0.0,
    variant: str = "sps",
) -> optax.GradientTransformationExtraArgs:
    """SGD with the Polyak step size; ``update(grads, state, params, value=loss)``:

        γ_t = s_t min((f(x_t) - f_min) / (|g_t|² + eps), max_learning_rate)
        x_{t+1} = x_t - γ_t g_t

    with s_t = ``scaling`` (a number or a schedule of the step) and the step 0 where
    |g|² + eps ≤ 2.2e-16. ``variant="sps+"`` uses max(f - f_min, 0) (Garrigos et al.).
    ``f_min`` is a lower bound on the loss (0 for models that can interpolate the data);
    a wrong one makes the method stall or diverge. Every number may be traced.
    `applied_lr` reports γ_t.

    Equals ``optax.polyak_sgd`` at ``scaling=1`` (the same arguments and defaults). With
    another scaling optax differs from its own formula: it applies ``sgd(scaling)``
    first and measures |g|² on the scaled gradient, so its step is
    s min(gap / (s² |g|² + eps), γmax): for eps = 0 and an unclipped step the scaling
    *divides* the step. lrjax computes the formula above, as optax's docstring states it.

    References: Polyak, "Introduction to optimization", 1987; Loizou, Vaswani, Laradji &
    Lacoste-Julien, "Stochastic Polyak step-size for SGD", AISTATS 2021; Garrigos, Gower
    & Schaipp, "Function value learning", 2023; ``optax.polyak_sgd`` (optax 0.2.8).
    """
    check_rate("scaling", scaling)
    return optax.chain(
        scale_by_polyak(f_min, max_learning_rate, eps, variant),
        scale_by_learning_rate(scaling),
    )
