"""NovoGrad: Adam-like momentum with a layer-wise second moment, one running average of
the squared gradient norm per leaf instead of one per coordinate (half Adam's memory).

Complex parameters: ‖g‖² = Σ |g|² (real, phase-invariant), as in optax.
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
    abs_sq,
    at,
    check_structure,
    complement,
    compute_dtype,
    is_zero,
    leafwise,
    per_dtype,
    real_dtype,
    scalar,
    scale_by_learning_rate,
    zeros_like,
)


class ScaleByNovogradState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    mu: optax.Updates  # first moment m, one per coordinate, in mu_dtype
    nu: optax.Updates  # second moment v, one real scalar per leaf, at least float32


@copies_arrays
@_checks.arguments(**_checks.MOMENTS, eps_root=_checks.SCHEDULED, weight_decay=_checks.SCHEDULED)
def scale_by_novograd(
    b1: Hyper = 0.9,
    b2: Hyper = 0.25,
    eps: Hyper = 1e-8,
    eps_root: Hyper = 0.0,
    weight_decay: Hyper = 0.0,
    *,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NovoGrad's scaling, per leaf, for update t = 1, 2, ... (λ = weight_decay):

        v ← ‖g‖² at t = 1, then v ← b2 v + (1 - b2) ‖g‖²        (a scalar per leaf)
        m ← b1 m + g / (sqrt(v + eps_root) + eps) + λ θ          (m_0 = 0)
        out = m

    ‖g‖² = Σ |g|² over the leaf's entries. The first moment is not an average (no
    1 - b1 on the new term) and the weight decay is inside it, so the step is not
    bias-corrected and the decay is accumulated by the momentum, as in the paper and
    optax. The update needs the params when weight_decay is not 0. Where the denominator
    is 0 (a zero gradient so far with eps = 0) the gradient term is 0, not 0/0 = NaN.
    v is stored in at least float32 (one number per leaf); every hyperparameter may be a
    schedule of the update count (optax's ``scale_by_novograd`` takes numbers only).

    References: Ginsburg et al., "Stochastic gradient methods with layer-wise adaptive
    moments for training of deep networks", arXiv 1905.11286, 2019, Algorithm 1;
    ``optax.scale_by_novograd`` (the rule above, eps default 1e-8 there too).
    """

    def init(params):
        nu = jax.tree.map(
            lambda p: None if p is None else jnp.zeros([], real_dtype(compute_dtype(p))), params
        )
        return ScaleByNovogradState(jnp.zeros([], jnp.int32), zeros_like(params, mu_dtype), nu)

    def update(updates, state, params=None):
        decay = not is_zero(weight_decay)
        if decay and params is None:
            raise ValueError(
                "novograd's weight decay needs the params: call update(grads, state, params)"
            )
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        count = state.count
        first = count == 0
        coefficients = per_dtype(
            lambda d: (
                scalar(at(b1, count), d),
                scalar(at(b2, count), d),
                complement(at(b2, count), d),
                scalar(at(eps, count), d),
                scalar(at(eps_root, count), d),
                scalar(at(weight_decay, count), d),
            )
        )

        def leaf(g, m, v, *p):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            c1, c2, w2, e, e_root, wd = coefficients(real)
            x = g.astype(dtype)
            square = jnp.sum(abs_sq(x))
            v_new = jnp.where(first, square, w2 * square + c2 * v.astype(real))
            denominator = jnp.sqrt(v_new + e_root) + e
            # times the reciprocal, not divided: XLA rounds a division by a broadcast
            # scalar differently with and without vmap, the product alike (a vmapped
            # sweep equals its single runs). 0 where the denominator is 0; a NaN
            # denominator stays NaN in the term.
            term = x * jnp.where(denominator == 0, 0, 1 / denominator).astype(real)
            if decay:
                term = term + wd * p[0].astype(dtype)
            m_new = c1 * m.astype(dtype) + term
            return (m_new.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype), *p)

        trees = (params,) if decay else ()
        out, mu, nu, *_ = leafwise(leaf, updates, state.mu, state.nu, *trees)
        return out, ScaleByNovogradState(optax.safe_increment(count), mu, nu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    **_checks.MOMENTS,
    eps_root=_checks.SCHEDULED,
    weight_decay=_checks.SCHEDULED,
)
def novograd(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.25,
    eps: Hyper = 1e-6,
    eps_root: Hyper = 0.0,
    weight_decay: Hyper = 0.0,
    *,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NovoGrad: ``θ ← θ - η_t m`` with m from `scale_by_novograd` (weight decay inside
    the momentum). The arguments, their order and defaults are ``optax.novograd``'s
    (eps 1e-6 here, 1e-8 in the scaling alone, as optax).

    References: Ginsburg et al., arXiv 1905.11286, 2019; Li et al., "Jasper: an
    end-to-end convolutional neural acoustic model", Interspeech 2019; ``optax.novograd``.
    """
    return optax.chain(
        scale_by_novograd(b1, b2, eps, eps_root, weight_decay, mu_dtype=mu_dtype),
        scale_by_learning_rate(learning_rate),
    )
