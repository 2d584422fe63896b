"""DoWG: distance over weighted gradients, a parameter-free step size for gradient descent."""

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
    abs_sq,
    check_rate,
    check_structure,
    descent,
    tree_sum,
)


class DoWGState(NamedTuple):
    x0: optax.Params  # the params given to init
    rbar_sq: jax.Array  # r̄², the largest squared distance from x0 so far
    G: jax.Array  # Σ r̄² |g|², the weighted sum of squared gradient norms
    eta: jax.Array  # r̄² / (sqrt(G) + eps) of the last update (0 before any)

    def applied_lr(self) -> jax.Array:
        return self.eta


@copies_arrays
@_checks.arguments(
    init_estim_sq_dist=_checks.real(0, open_low=True, optional=True),
    eps=_checks.POSITIVE,
)
def scale_by_dowg(
    init_estim_sq_dist: ArrayLike | None = None, eps: ArrayLike = 1e-4
) -> optax.GradientTransformation:
    """Multiply the gradient by DoWG's step size η_t (the sign is the rate's, see `dowg`):

        r̄²_t = max(r̄²_{t-1}, |x_t - x0|²)     (r̄²_0 = init_estim_sq_dist, or eps)
        G_t = G_{t-1} + r̄²_t |g_t|²,           η_t = r̄²_t / (sqrt(G_t) + eps)

    The norms run over the whole tree (|z|² = re(z)² + im(z)² for complex leaves); the
    state is float32 (float64 under x64) whatever the params' dtype. ``optax.contrib``'s
    ``scale_by_dowg``, whose state takes the lowest float dtype of the params instead.
    """

    def init(params):
        dtype = jnp.result_type(float)
        start = eps if init_estim_sq_dist is None else init_estim_sq_dist
        return DoWGState(
            jax.tree.map(jnp.array, params),
            jnp.asarray(start, dtype),
            jnp.zeros([], dtype),
            jnp.zeros([], dtype),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("dowg needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        dtype = state.G.dtype

        def wide(x):
            return x.astype(jnp.promote_types(x.dtype, dtype))

        dist_sq = tree_sum(lambda p, p0: abs_sq(wide(p) - wide(p0)), params, state.x0)
        rbar_sq = jnp.maximum(state.rbar_sq, dist_sq.astype(dtype))
        G = state.G + rbar_sq * tree_sum(lambda g: abs_sq(wide(g)), updates).astype(dtype)
        eta = rbar_sq / (jnp.sqrt(G) + jnp.asarray(eps, dtype))
        out = jax.tree.map(lambda g: (eta * wide(g)).astype(g.dtype), updates)
        return out, DoWGState(state.x0, rbar_sq, G, eta)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    init_estim_sq_dist=_checks.real(0, open_low=True, optional=True),
    eps=_checks.POSITIVE,
    weight_decay=_checks.WEIGHT_DECAY,
)
def dowg(
    learning_rate: Hyper = 1.0,
    init_estim_sq_dist: ArrayLike | None = None,
    eps: ArrayLike = 1e-4,
    weight_decay: Hyper | None = None,
    mask: Any = None,
) -> optax.GradientTransformationExtraArgs:
    """DoWG, for update t with gradient g (g includes λ x with ``weight_decay`` λ,
    coupled, on the leaves `mask` selects):

        r̄²_t = max(r̄²_{t-1}, |x_t - x0|²),   G_t = G_{t-1} + r̄²_t |g_t|²
        x_{t+1} = x_t - c_t r̄²_t / (sqrt(G_t) + eps) g_t        (c_t = learning_rate(t))

    with r̄²_0 = ``init_estim_sq_dist`` (eps when None). Keep the rate at 1; a schedule
    multiplies the step size. Equals ``optax.contrib.dowg`` (the same arguments and
    defaults). `applied_lr` reports c_t η_t. Every number may be traced. G is a sum of
    squares and overflows to inf for |g| ≳ 1e17 in float32, as in optax; the step is then 0.

    Reference: Khaled, Mishchenko & Jin, "DoWG unleashed: an efficient universal
    parameter-free gradient descent method", NeurIPS 2023; ``optax.contrib.dowg``
    (optax 0.2.8).
    """
    check_rate("learning_rate", learning_rate)
    opt = descent(
        scale_by_dowg(init_estim_sq_dist, eps),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
    )
    return optax.with_extra_args_support(opt)
