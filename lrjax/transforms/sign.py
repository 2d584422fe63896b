"""Sign-based methods: signSGD, Signum and Lion. Each step has the same size in every
coordinate, the rate times the sign of a (possibly averaged) gradient.

Complex parameters: the sign of a complex z is z / |z| (``jnp.sign``), as in optax.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    at,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    decay_weights,
    leafwise,
    lerp,
    per_dtype,
    real_dtype,
    scalar,
    scale_by_learning_rate,
    zeros_like,
)


class ScaleBySignState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    mu: optax.Updates  # the moving average m (Signum, Lion); None for plain signSGD


@copies_arrays
@_checks.arguments(momentum=_checks.real(0, 1, open_high=True, schedule=True, optional=True))
def scale_by_sign(
    momentum: Hyper | None = None, *, mu_dtype: Any = None
) -> optax.GradientTransformation:
    """``out = sign(m)`` with ``m ← β m + (1 - β) g`` (Signum, ``momentum=β``), or
    ``out = sign(g)`` without momentum (signSGD).

    References: Bernstein et al., "signSGD: Compressed optimisation for non-convex
    problems", ICML 2018 (Signum is their Algorithm 3); ``optax.sign_sgd``,
    ``optax.signum`` (which writes the average as ``optax.ema(β, debias=False)``).
    """
    if momentum is not None:
        check_unit("momentum", momentum)

    def init(params):
        mu = None if momentum is None else zeros_like(params, mu_dtype)
        return ScaleBySignState(jnp.zeros([], jnp.int32), mu)

    def update(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        if momentum is None:
            return jax.tree.map(jnp.sign, updates), ScaleBySignState(count, None)
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        weight = per_dtype(lambda d: complement(at(momentum, state.count), d))

        def leaf(g, m):
            dtype = compute_dtype(g)
            m_new = lerp(m.astype(dtype), g.astype(dtype), weight(real_dtype(dtype)))
            return jnp.sign(m_new).astype(g.dtype), m_new.astype(m.dtype)

        out, mu = leafwise(leaf, updates, state.mu)
        return out, ScaleBySignState(count, mu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE)
def sign_sgd(learning_rate: Hyper) -> optax.GradientTransformation:
    """signSGD: ``θ ← θ - η_t sign(g)`` (Bernstein et al. 2018; ``optax.sign_sgd``)."""
    return optax.chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE, momentum=_checks.UNIT)
def signum(
    learning_rate: Hyper, momentum: Hyper = 0.9, *, mu_dtype: Any = None
) -> optax.GradientTransformation:
    """Signum: ``m ← β m + (1 - β) g``, ``θ ← θ - η_t sign(m)`` (Bernstein et al. 2018;
    ``optax.signum``, whose ``beta`` is ``momentum`` here)."""
    return optax.chain(
        scale_by_sign(momentum, mu_dtype=mu_dtype), scale_by_learning_rate(learning_rate)
    )


@copies_arrays
@_checks.arguments(b1=_checks.UNIT, b2=_checks.UNIT)
def scale_by_lion(
    b1: Hyper = 0.9, b2: Hyper = 0.99, *, mu_dtype: Any = None
) -> optax.GradientTransformation:
    """Lion's direction: ``out = sign(b1 m + (1 - b1) g)``, then ``m ← b2 m + (1 - b2) g``.

    The step interpolates with b1 but the momentum is kept with b2 (b2 > b1 by default),
    which is what distinguishes Lion from Signum.

    Reference: Chen et al., "Symbolic discovery of optimization algorithms", NeurIPS
    2023, Algorithm 2; ``optax.scale_by_lion`` (its "hard" mode).
    """
    check_unit("b1", b1)
    check_unit("b2", b2)

    def init(params):
        return ScaleBySignState(jnp.zeros([], jnp.int32), zeros_like(params, mu_dtype))

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        weights = per_dtype(
            lambda d: (complement(beta1, d), scalar(beta1, d), complement(beta2, d))
        )

        def leaf(g, m):
            dtype = compute_dtype(g)
            w1, c1, w2 = weights(real_dtype(dtype))
            x, m_old = g.astype(dtype), m.astype(dtype)
            out = jnp.sign(w1 * x + c1 * m_old)
            return out.astype(g.dtype), lerp(m_old, x, w2).astype(m.dtype)

        out, mu = leafwise(leaf, updates, state.mu)
        return out, ScaleBySignState(optax.safe_increment(state.count), mu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, b1=_checks.UNIT, b2=_checks.UNIT)
def lion(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.99,
    *,
    weight_decay: Hyper = 1e-3,
    mask: Any = None,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Lion: ``θ ← θ - η_t (sign(b1 m + (1 - b1) g) + λ θ)`` with `scale_by_lion` and
    decoupled weight decay λ (default 1e-3, optax's; `mask` selects the decayed leaves).

    Reference: Chen et al., NeurIPS 2023; ``optax.lion``.
    """
    return optax.chain(
        scale_by_lion(b1, b2, mu_dtype=mu_dtype),
        decay_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
