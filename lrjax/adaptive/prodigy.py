"""Prodigy: Adam whose step size d is estimated from the distance travelled."""

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
    accepting_extra_args,
    at,
    check_rate,
    check_structure,
    inner,
    tree_sum,
    zeros_like,
)


class ProdigyState(NamedTuple):
    count: jax.Array  # int32 k, steps taken (saturating)
    d: jax.Array  # the distance estimate (d0 before any step)
    d_max: jax.Array  # the largest estimate d̂ so far
    numerator: jax.Array  # r, the running weighted <g, x0 - x>
    learning_rate: jax.Array  # d·lr·bc of the last step: the effective Adam rate
    mu: optax.Updates  # m, carries the factor d
    nu: optax.Updates  # v, carries d²
    s: optax.Updates  # running weighted sum of gradients
    x0: optax.Params  # the initial params

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, open_low=True, schedule=True),
    b1=_checks.real(0, 1, open_high=True),
    b2=_checks.real(0, 1, open_high=True),
    b3=_checks.real(0, 1, open_high=True, optional=True),
    eps=_checks.POSITIVE,
    weight_decay=_checks.NONNEGATIVE,
    d0=_checks.POSITIVE,
    d_coef=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
)
def prodigy(
    learning_rate: Hyper = 1.0,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    b3: ArrayLike | None = None,
    eps: ArrayLike = 1e-8,
    *,
    weight_decay: ArrayLike = 0.0,
    decoupled: bool = True,
    bias_correction: bool = False,
    safeguard_warmup: bool = False,
    d0: ArrayLike = 1e-6,
    d_coef: ArrayLike = 1.0,
    growth_rate: ArrayLike = float("inf"),
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Prodigy, for step k = 0, 1, ... with β3 = b3 or sqrt(b2) and d = d_k:

        bc = sqrt(1 - b2^(k+1)) / (1 - b1^(k+1)) if bias_correction else 1
        η = d · lr_k · bc                                   (lr_k = learning_rate(k))
        g ← g + λ x                                          (coupled decay only)
        r ← β3 r + (d / d0) η <g, x0 - x>
        m ← b1 m + (1 - b1) d g,    v ← b2 v + (1 - b2) d² g²
        s ← β3 s + (d / d0) (d if safeguard_warmup else η) g
        d̂ = d_coef · r / |s|₁
        d_{k+1} = min(max(d̂, d_max), d · growth_rate), with d raised to d̂ first when d = d0
        x ← x - η λ x (decoupled decay),   x ← x - η m / (sqrt(v) + d_{k+1} eps)

    The inner products and norms run over the whole tree (one d for all parameters). When
    every gradient is zero (|s|₁ = 0) no step is taken and d stays, as in the reference.
    A NaN gradient entry gives NaN updates and a NaN state (d included), as optax's
    ``contrib.prodigy``; wrap the optimizer in ``optax.apply_if_finite`` to skip such
    steps. (Before, NaN made |s|₁ > 0 false: d and the params froze for good, silently.)
    Keep ``learning_rate`` at 1 and tune ``d_coef`` (the reference README); a schedule on
    ``learning_rate`` multiplies the estimated rate.

    Reference: Mishchenko & Defazio, "Prodigy: an expeditiously adaptive parameter-free
    learner", ICML 2024; konstmish/prodigy ``prodigyopt.Prodigy`` 1.1.2.
    """
    check_rate("learning_rate", learning_rate, positive=True)
    _checks.between("b1", b1, 0.0, 1.0, open_high=True)
    _checks.between("b2", b2, 0.0, 1.0, open_high=True)
    if b3 is not None:
        _checks.between("b3", b3, 0.0, 1.0, open_high=True)
    _checks.positive("eps", eps)
    _checks.nonnegative("weight_decay", weight_decay)
    _checks.positive("d0", d0)
    _checks.positive("d_coef", d_coef)
    _checks.check("growth_rate", growth_rate, lambda v: v >= 1, "a number >= 1 (inf allowed)")

    def init(params):
        dtype = jnp.result_type(float)
        zero = lambda: jnp.zeros([], dtype)  # noqa: E731  (own buffers: states may be donated)
        start = lambda: jnp.array(d0, dtype)  # noqa: E731  (copies: d0 may be an array)
        return ProdigyState(
            jnp.zeros([], jnp.int32),
            start(),
            start(),
            zero(),
            zero(),
            zeros_like(params, mu_dtype),
            zeros_like(params, mu_dtype, real=True),  # v holds d²|g|², real
            zeros_like(params),
            jax.tree.map(jnp.array, params),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("prodigy needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        dtype = state.d.dtype
        beta3 = jnp.sqrt(jnp.asarray(b2, dtype)) if b3 is None else b3
        k = state.count.astype(dtype)
        bc = jnp.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if bias_correction else 1
        d = state.d
        dlr = (d * at(learning_rate, state.count) * bc).astype(dtype)
        g = updates
        if not decoupled:
            g = jax.tree.map(lambda g, x: g + weight_decay * x, g, params)
        scale = d / d0
        numerator = beta3 * state.numerator + scale * dlr * tree_sum(
            lambda g, x0, x: inner(g, x0 - x), g, state.x0, params
        )
        mu = jax.tree.map(lambda m, g: b1 * m + d * (1 - b1) * g, state.mu, g)
        nu = jax.tree.map(lambda v, g: b2 * v + d * d * (1 - b2) * abs_sq(g), state.nu, g)
        s = jax.tree.map(
            lambda s, g: beta3 * s + scale * (d if safeguard_warmup else dlr) * g, state.s, g
        )
        denom = tree_sum(jnp.abs, s)
        step = denom != 0  # not `denom > 0`: a NaN |s|₁ steps, so NaN reaches d and updates
        d_hat = d_coef * numerator / jnp.where(step, denom, 1)
        d_new = jnp.where(d == d0, jnp.maximum(d, d_hat), d)
        d_max = jnp.maximum(state.d_max, d_hat)
        d_new = jnp.minimum(d_max, d_new * growth_rate)

        def leaf(x, m, v):
            # The reference decays x in place, then steps: form both and return the
            # difference, which is exact, so x + update reproduces its two roundings. That
            # matters: r uses x0 - x, which cancels most digits after a step.
            y = x + (-weight_decay * dlr) * x if decoupled else x
            y = y + (-dlr) * (m / (jnp.sqrt(v) + d_new * eps))
            return jnp.where(step, y - x, 0).astype(x.dtype)

        out = jax.tree.map(leaf, params, mu, nu)
        keep = lambda new, old: jnp.where(step, new, old).astype(old.dtype)  # noqa: E731
        new_state = ProdigyState(
            jnp.where(step, optax.safe_increment(state.count), state.count),
            keep(d_new, d),
            keep(d_max, state.d_max),
            keep(numerator, state.numerator),
            keep(dlr, state.learning_rate),
            jax.tree.map(lambda n, o: n.astype(o.dtype), mu, state.mu),
            jax.tree.map(lambda n, o: n.astype(o.dtype), nu, state.nu),
            jax.tree.map(lambda n, o: n.astype(o.dtype), s, state.s),
            state.x0,
        )
        return out, new_state

    return accepting_extra_args(init, update)
