"""SM3: an AdaGrad whose accumulator is covered by one vector per dimension, so a
tensor of shape (n1, ..., nk) keeps n1 + ... + nk numbers instead of n1 ··· nk.

Complex parameters: the accumulators sum |g|² (real), and the update and momentum are
complex, g / sqrt(ν); optax's SM3 refuses complex parameters.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    at,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    leafwise,
    per_dtype,
    real_dtype,
    scalar,
    scale_by_learning_rate,
    zeros_like,
)


class ScaleBySM3State(NamedTuple):
    """State of `scale_by_sm3` (optax's ``ScaleBySM3State`` calls the accumulators ``mu``
    and the momentum ``nu``; lrjax names them as its other methods do)."""

    count: jax.Array  # int32, updates applied (saturating)
    sum_of_squares: optax.Updates  # per leaf: a list of one accumulator per dimension
    mu: optax.Updates  # the momentum average of g / sqrt(ν), in the params' dtypes


def _cover(p: jax.Array, dtype: Any) -> list:
    """The accumulators of a leaf: one vector per dimension (shape (n_i,)) for two or
    more dimensions; one accumulator of the leaf's shape for a vector or a scalar."""
    if p.ndim < 2:
        return [jnp.zeros(p.shape, dtype)]
    return [jnp.zeros((n,), dtype) for n in p.shape]


def _expanded(v: jax.Array, axis: int, ndim: int) -> jax.Array:
    """Accumulator `v` of dimension `axis` shaped (1, ..., n_axis, ..., 1) to broadcast."""
    return jnp.reshape(v, [1] * axis + [v.shape[0]] + [1] * (ndim - axis - 1))


@copies_arrays
@_checks.arguments(b1=_checks.UNIT, b2=_checks.real(0, 1, schedule=True), eps=_checks.SCHEDULED)
def scale_by_sm3(
    b1: Hyper = 0.9, b2: Hyper = 1.0, eps: Hyper = 1e-8
) -> optax.GradientTransformation:
    """SM3-II's scaling with momentum, for update t = 1, 2, ... on a leaf of k ≥ 2
    dimensions with accumulators μ_1, ..., μ_k (one per dimension, μ_r of length n_r):

        ν(i) = c |g(i)|² + b2 min_r μ_r(i_r)       c = 1 if b2 = 1, else 1 - b2
        u(i) = g(i) / sqrt(ν(i) + eps), 0 where ν(i) = 0
        μ_r(j) ← max over the entries i with i_r = j of ν(i)
        m ← b1 m + (1 - b1) u,   out = m

    A vector or scalar leaf is its own cover: μ is of its shape and ν = c |g|² + b2 μ,
    plain AdaGrad with b2 = 1 (optax refuses scalar leaves). ν(i) bounds the sum of
    squared gradients of entry i from above, with memory n_1 + ... + n_k per leaf. b2 = 1
    (the paper's SM3) sums, b2 < 1 averages. Every argument may be traced or a schedule.

    References: Anil, Gupta, Koren & Singer, "Memory-efficient adaptive optimization",
    NeurIPS 2019, Algorithm SM3-II; ``optax.scale_by_sm3`` (whose momentum and rule
    these are).
    """
    check_unit("b1", b1)

    def init(params):
        def leaf(p):
            return None if p is None else _cover(p, real_dtype(p.dtype))

        return ScaleBySM3State(
            jnp.zeros([], jnp.int32),
            jax.tree.map(leaf, params, is_leaf=lambda x: x is None),
            zeros_like(params),
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        beta1, beta2, epsilon = (at(h, state.count) for h in (b1, b2, eps))

        def coefficients(d):
            keep = scalar(beta2, d)
            return jnp.where(keep == 1, 1, 1 - keep), keep, scalar(epsilon, d)

        scalars = per_dtype(coefficients)
        weights = per_dtype(lambda d: (complement(beta1, d), scalar(beta1, d)))

        def leaf(g, accumulators, m):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            c, keep, e = scalars(real)
            w1, c1 = weights(real)
            x = g.astype(dtype)
            ndim = x.ndim
            if ndim < 2:
                least = accumulators[0].astype(real)
            else:
                least = functools.reduce(
                    jnp.minimum,
                    [_expanded(a.astype(real), r, ndim) for r, a in enumerate(accumulators)],
                )
            nu = c * abs_sq(x) + keep * least
            u = x * jnp.where(nu > 0, jax.lax.rsqrt(nu + e), 0)
            m_new = w1 * u + c1 * m.astype(dtype)
            if ndim < 2:
                new = [nu]
            else:
                new = [
                    jnp.max(nu, axis=tuple(a for a in range(ndim) if a != r)) for r in range(ndim)
                ]
            new = [n.astype(a.dtype) for n, a in zip(new, accumulators, strict=True)]
            return m_new.astype(g.dtype), new, m_new.astype(m.dtype)

        out, accumulators, mu = leafwise(leaf, updates, state.sum_of_squares, state.mu)
        return out, ScaleBySM3State(optax.safe_increment(state.count), accumulators, mu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE, momentum=_checks.UNIT)
def sm3(learning_rate: Hyper, momentum: Hyper = 0.9) -> optax.GradientTransformation:
    """SM3: ``θ ← θ - η_t out`` with `scale_by_sm3` (b1 = momentum, b2 = 1, eps = 1e-8),
    as ``optax.sm3``; the rate may be a schedule here (optax's must be a number).

    Reference: Anil et al., NeurIPS 2019; ``optax.sm3``.
    """
    return optax.chain(scale_by_sm3(momentum), scale_by_learning_rate(learning_rate))
