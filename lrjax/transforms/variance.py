"""Adam with another second moment: AdaBelief (the gradient's spread around its moving
average) and Yogi (an additive update of v whose sign follows g² - v).

Complex parameters: squares are |x|² (real second moments), as in `lrjax.transforms.adam`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.adam import ScaleByAdamState
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    at,
    check_nonnegative,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    descent,
    leafwise,
    lerp,
    per_dtype,
    real_dtype,
    scalar,
    zeros_like,
)


def _bias_corrections(b1: Hyper, b2: Hyper, count):
    """Per compute dtype: (1 - b1), b2, (1 - b2), 1 - b1^t, 1 - b2^t for update t."""
    beta1, beta2 = at(b1, count), at(b2, count)
    t = optax.safe_increment(count)
    return t, per_dtype(
        lambda d: (
            complement(beta1, d),
            scalar(beta2, d),
            complement(beta2, d),
            1 - scalar(beta1, d) ** t.astype(d),
            1 - scalar(beta2, d) ** t.astype(d),
        )
    )


@copies_arrays
@_checks.arguments(**_checks.MOMENTS, eps_root=_checks.SCHEDULED)
def scale_by_belief(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-16,
    *,
    eps_root: Hyper = 1e-16,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaBelief's scaling, for update t = 1, 2, ...:

        m ← b1 m + (1 - b1) g,   s ← b2 s + (1 - b2) |g - m|² + eps_root
        out = [m / (1 - b1^t)] / (sqrt(s / (1 - b2^t)) + eps)

    s is the "belief": how far the gradient strays from its prediction m, so the step is
    large where the gradient is as predicted and small where it is noisy.

    Reference: Zhuang et al., "AdaBelief optimizer: adapting stepsizes by the belief in
    observed gradients", NeurIPS 2020, Algorithm 2; ``optax.scale_by_belief``.
    """
    check_unit("b1", b1)
    check_unit("b2", b2)
    check_nonnegative("eps", eps)
    check_nonnegative("eps_root", eps_root)

    def init(params):
        count = jnp.zeros([], jnp.int32)
        return ScaleByAdamState(
            count, zeros_like(params, mu_dtype), zeros_like(params, nu_dtype, real=True), None
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        t, coefficients = _bias_corrections(b1, b2, state.count)

        def leaf(g, m, s):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            w1, c2, w2, bc1, bc2 = coefficients(real)
            x = g.astype(dtype)
            m_new = lerp(m.astype(dtype), x, w1)
            s_new = (
                c2 * s.astype(real)
                + w2 * abs_sq(x - m_new)
                + scalar(at(eps_root, state.count), real)
            )
            out = (m_new / bc1) / (jnp.sqrt(s_new / bc2) + scalar(at(eps, state.count), real))
            return out.astype(g.dtype), m_new.astype(m.dtype), s_new.astype(s.dtype)

        out, mu, nu = leafwise(leaf, updates, state.mu, state.nu)
        return out, ScaleByAdamState(t, mu, nu, None)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS, eps_root=_checks.SCHEDULED)
def adabelief(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-16,
    *,
    eps_root: Hyper = 1e-16,
    weight_decay: Hyper | None = None,
    decoupled: bool = False,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaBelief: ``θ ← θ - η_t out`` with `scale_by_belief`; optional weight decay, L2
    or decoupled (``decoupled=True``, as the paper's AdamW-style variant). The defaults are
    optax's (eps = eps_root = 1e-16).

    Reference: Zhuang et al., NeurIPS 2020; ``optax.adabelief``.
    """
    return descent(
        scale_by_belief(b1, b2, eps, eps_root=eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
        decoupled=decoupled,
    )


@copies_arrays
@_checks.arguments(
    **_checks.MOMENTS, eps_root=_checks.SCHEDULED, initial_accumulator_value=_checks.NONNEGATIVE
)
def scale_by_yogi(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-3,
    *,
    eps_root: Hyper = 0.0,
    initial_accumulator_value: Hyper = 1e-6,
) -> optax.GradientTransformation:
    """Yogi's scaling, for update t = 1, 2, ...:

        m ← b1 m + (1 - b1) g,   v ← v - (1 - b2) sign(v - |g|²) |g|²
        out = [m / (1 - b1^t)] / (sqrt(v / (1 - b2^t) + eps_root) + eps)

    v moves towards |g|² by a step of (1 - b2) |g|² whatever its distance (Adam moves
    by (1 - b2)(|g|² - v)), so a burst of large gradients cannot shrink the rate as fast.
    m and v start at ``initial_accumulator_value`` (optax's 1e-6). Where v and |g|² are
    both +inf (gradients of 1e30 in float32), v stays +inf and the update is 0, where
    optax's formula gives NaN (inf - inf). A complex first moment starting at a real
    constant is not rotated with a global phase of the gradients; pass
    ``initial_accumulator_value=0`` for a phase-equivariant run.

    Reference: Zaheer et al., "Adaptive methods for nonconvex optimization", NeurIPS
    2018, Algorithm 2; ``optax.scale_by_yogi``.
    """
    check_unit("b1", b1)
    check_unit("b2", b2)
    check_nonnegative("eps", eps)
    check_nonnegative("eps_root", eps_root)
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)

    def init(params):
        def full(real):
            return _plus(zeros_like(params, real=real), initial_accumulator_value)

        return ScaleByAdamState(jnp.zeros([], jnp.int32), full(False), full(True), None)

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        t, coefficients = _bias_corrections(b1, b2, state.count)

        def leaf(g, m, v):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            w1, _, w2, bc1, bc2 = coefficients(real)
            x = g.astype(dtype)
            m_new = lerp(m.astype(dtype), x, w1)
            square = abs_sq(x)
            v_old = v.astype(real)
            # v equal to |g|² stays as it is: written out, so that v = |g|² = inf (a
            # gradient of 1e30 in float32) keeps v at inf instead of inf - inf = NaN
            step = w2 * jnp.sign(v_old - square) * square
            v_new = jnp.where(v_old == square, v_old, v_old - step)
            root = jnp.sqrt(v_new / bc2 + scalar(at(eps_root, state.count), real))
            out = (m_new / bc1) / (root + scalar(at(eps, state.count), real))
            return out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype)

        out, mu, nu = leafwise(leaf, updates, state.mu, state.nu)
        return out, ScaleByAdamState(t, mu, nu, None)

    return optax.GradientTransformation(init, update)


def _plus(tree: Any, value: Hyper) -> Any:
    """Each leaf plus ``value`` (in the leaf's dtype; a complex leaf's real part)."""
    return jax.tree.map(lambda z: z + jnp.asarray(value, z.real.dtype).astype(z.dtype), tree)


@copies_arrays
@_checks.arguments(
    **_checks.OPTIMIZER,
    **_checks.MOMENTS,
    eps_root=_checks.SCHEDULED,
    initial_accumulator_value=_checks.NONNEGATIVE,
)
def yogi(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-3,
    *,
    eps_root: Hyper = 0.0,
    initial_accumulator_value: Hyper = 1e-6,
    weight_decay: Hyper | None = None,
    mask: Any = None,
) -> optax.GradientTransformation:
    """Yogi: ``θ ← θ - η_t out`` with `scale_by_yogi` and optional L2 weight decay; the
    defaults are optax's (eps 1e-3).

    Reference: Zaheer et al., NeurIPS 2018; ``optax.yogi``.
    """
    return descent(
        scale_by_yogi(
            b1, b2, eps, eps_root=eps_root, initial_accumulator_value=initial_accumulator_value
        ),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
    )
