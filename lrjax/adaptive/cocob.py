"""COCOB-Backprop: per-coordinate coin betting, with no learning rate to tune."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    at,
    check_rate,
    check_structure,
    compute_dtype,
    decay_weights,
    inner,
    leafwise,
    real_dtype,
    tree_norm,
)


class COCOBState(NamedTuple):
    count: jax.Array  # int32 updates applied (saturating)
    x0: optax.Params  # x_1, the params given to init
    theta: optax.Updates  # θ = -Σ g, the sum of the negative gradients
    L: optax.Updates  # the largest |g| so far (eps before any update), real
    G: optax.Updates  # Σ |g|, real
    R: optax.Updates  # the reward max(R - <g, x - x_1>, 0), real
    step_size: jax.Array  # |x_{t+1} - x_1| / |θ_t| of the last update (0 before any)

    def applied_lr(self) -> jax.Array:
        """The step size on θ, |x_{t+1} - x_1| / |θ|: each coordinate's fraction
        c (L + R) / (L max(G + L, α L)) averaged with weights θ² (a summary for logging,
        which coordinates that have seen no gradient do not enter)."""
        return self.step_size


@copies_arrays
@_checks.arguments(
    alpha=_checks.POSITIVE,
    eps=_checks.POSITIVE,
    learning_rate=_checks.RATE,
)
def scale_by_cocob(
    alpha: ArrayLike = 100.0, eps: ArrayLike = 1e-8, *, learning_rate: Hyper = 1.0
) -> optax.GradientTransformation:
    """COCOB-Backprop's step (Algorithm 2), per coordinate, for update t = 1, 2, ...:

        L_t = max(L_{t-1}, |g_t|)   (L_0 = eps),     G_t = G_{t-1} + |g_t|
        R_t = max(R_{t-1} - g_t (x_t - x_1), 0),       θ_t = θ_{t-1} - g_t
        x_{t+1} = x_1 + c_t θ_t (L_t + R_t) / (L_t max(G_t + L_t, α L_t))

    with c_t = learning_rate(t - 1) (1 recommended: COCOB's steps already have the
    gradients' units). The output is x_{t+1} - x_t, the whole step: chain nothing that
    rescales it. x_1 is the params given to ``init`` (as optax; parameterfree takes those
    of the first step, the same unless the params change in between). For complex
    leaves |g| is the modulus and g (x - x_1) is re(conj(g)(x - x_1)).
    Where the product L max(...) overflows (|g| ~ 1e20 in float32) the quotient is
    evaluated as θ / max(G + L, α L) · (L + R) / L instead, whose factors stay bounded.
    """
    check_rate("learning_rate", learning_rate)

    def init(params):
        def real(p, value=0.0):  # L, G and R are real, in at least float32
            return None if p is None else jnp.full(p.shape, value, real_dtype(compute_dtype(p)))

        return COCOBState(
            jnp.zeros([], jnp.int32),
            jax.tree.map(jnp.array, params),  # own buffers: states may be donated
            jax.tree.map(lambda p: jnp.zeros(p.shape, compute_dtype(p)), params),
            jax.tree.map(lambda p: real(p, eps), params),
            jax.tree.map(real, params),
            jax.tree.map(real, params),
            jnp.zeros([], jnp.result_type(float)),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("cocob needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        c = at(learning_rate, state.count)

        def wide(x):
            return x.astype(jnp.promote_types(x.dtype, state.step_size.dtype))

        def fraction(L, G, R):  # c (L + R) / (L max(G + L, α L)), without overflow
            return jnp.asarray(c, L.dtype) * ((L + R) / L) / jnp.maximum(G + L, alpha * L)

        def leaf(g, p, x0, theta, L, G, R):
            dtype = compute_dtype(p)
            g = g.astype(dtype)
            L = jnp.maximum(L, jnp.abs(g))
            G = G + jnp.abs(g)
            R = jnp.maximum(R - inner(g, p.astype(dtype) - x0.astype(dtype)), 0)
            theta = theta - g
            # optax's order, θ / (L max(G + L, α L)) (L + R), where the product is finite
            den = L * jnp.maximum(G + L, alpha * L)
            bet = jnp.where(
                jnp.isfinite(den),
                theta / den * (L + R) * jnp.asarray(c, L.dtype),
                theta * fraction(L, G, R),
            )
            new = x0.astype(dtype) + bet
            return (new - p.astype(dtype)).astype(p.dtype), p, x0, theta, L, G, R

        out, _, _, theta, L, G, R = leafwise(
            leaf, updates, params, state.x0, state.theta, state.L, state.G, state.R
        )
        bet = jax.tree.map(
            lambda d, p, x0: None if d is None else wide(p) + wide(d) - wide(x0),
            out,
            params,
            state.x0,
            is_leaf=lambda x: x is None,
        )
        norm = tree_norm(theta)
        mean = jnp.where(norm > 0, tree_norm(bet) / jnp.where(norm > 0, norm, 1), 0)
        mean = mean.astype(state.step_size.dtype)
        count = optax.safe_increment(state.count)
        return out, COCOBState(count, state.x0, theta, L, G, R, mean)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    alpha=_checks.POSITIVE,
    eps=_checks.POSITIVE,
    weight_decay=_checks.WEIGHT_DECAY,
)
def cocob(
    learning_rate: Hyper = 1.0,
    alpha: ArrayLike = 100.0,
    eps: ArrayLike = 1e-8,
    weight_decay: Hyper | None = None,
    mask: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """COCOB-Backprop: `scale_by_cocob` on the gradient plus the coupled (L2) weight decay
    ``weight_decay · x`` (on the leaves `mask` selects), as ``optax.contrib.cocob`` and
    parameterfree's ``COCOB``. Defaults α = 100 (about the number of warm-up steps) and
    eps = 1e-8 are both references'.

    With the default ``learning_rate=1`` the steps equal optax's and parameterfree's. A
    rate (or a schedule) c_t multiplies the bet x_{t+1} - x_1 = c_t θ (L + R) / (...).
    optax 0.2.8 instead multiplies the *gradient* by the rate before COCOB
    (``scale_by_learning_rate(lr, flip_sign=False)`` first), and COCOB is invariant to
    the gradients' scale, so there its learning rate and schedules have no effect
    (shared/refs/ADAPTIVE.md §3.5); here they do. Every number may be traced.

    References: Orabona & Tommasi, "Training deep networks without learning rates through
    coin betting", NeurIPS 2017 (Algorithm 2); bremen79/parameterfree ``COCOB`` 0.0.1;
    ``optax.contrib.cocob`` (optax 0.2.8).
    """
    return optax.with_extra_args_support(
        optax.chain(
            decay_weights(weight_decay, mask),
            scale_by_cocob(alpha, eps, learning_rate=learning_rate),
        )
    )
