"""D-Adaptation: the step size d estimated from a lower bound on the distance to the
solution, for Adam, SGD and AdaGrad.

Reference: Defazio & Mishchenko, "Learning-rate-free learning by D-Adaptation", ICML 2023;
facebookresearch/dadaptation 3.2. All sums run over the whole parameter tree (one d).
"""

from __future__ import annotations

from typing import NamedTuple

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
    compute_dtype,
    inner,
    tree_norm,
    tree_sum,
    zeros_like,
)


def _check_common(learning_rate, d0, growth_rate):
    check_rate("learning_rate", learning_rate, positive=True)
    _checks.positive("d0", d0)
    _checks.check("growth_rate", growth_rate, lambda v: v >= 1, "a number >= 1 (inf allowed)")


def _grow(d, d_hat, growth_rate):
    """d ← max(d, min(d̂, d · growth_rate))."""
    return jnp.maximum(d, jnp.minimum(d_hat, d * growth_rate))


def _upcast(tree):
    """Each leaf in its compute dtype (at least float32): float16 and bfloat16 buffers
    stay in their dtype in the state, but the arithmetic on them does not."""
    return jax.tree.map(lambda x: x.astype(compute_dtype(x)), tree)


def _cast_like(new, old):
    """`new`'s leaves in the dtypes of `old`'s: the state keeps its init dtypes, so an
    update never changes its types (``lax.cond``, ``scan`` and jit's cache need that)."""
    return jax.tree.map(lambda n, o: n.astype(o.dtype), new, old)


def _step_to(params, targets, step):
    """Updates that move params exactly to `targets` (where `step`), else stay.

    The difference of two nearby floats is exact, so ``params + update`` lands on the
    target the reference computes in place, keeping its roundings.
    """
    return jax.tree.map(lambda x, y: jnp.where(step, y - x, 0).astype(x.dtype), params, targets)


class DAdaptAdamState(NamedTuple):
    count: jax.Array  # int32 k, steps taken
    d: jax.Array
    numerator: jax.Array  # the weighted numerator r
    learning_rate: jax.Array  # d·lr·bc of the last step
    mu: optax.Updates  # m, carries the factor d·lr·bc
    nu: optax.Updates
    s: optax.Updates

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, open_low=True, schedule=True),
    b1=_checks.real(0, 1, open_high=True),
    b2=_checks.real(0, 1, open_high=True),
    eps=_checks.NONNEGATIVE,
    weight_decay=_checks.NONNEGATIVE,
    d0=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
)
def dadapt_adam(
    learning_rate: Hyper = 1.0,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    *,
    weight_decay: ArrayLike = 0.0,
    decoupled: bool = False,
    bias_correction: bool = False,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = float("inf"),
) -> optax.GradientTransformation:
    """D-Adapted Adam, for step k with d = d_k and η = d · lr_k · bc:

        bc = sqrt(1 - b2^(k+1)) / (1 - b1^(k+1)) if bias_correction else 1
        g ← g + λ x (coupled decay)
        r ← √b2 r + (1 - √b2) η <g, s / (sqrt(v) + eps)>     (the old s and v)
        m ← b1 m + (1 - b1) η g,   v ← b2 v + (1 - b2) g²,   s ← √b2 s + (1 - √b2) η g
        d̂ = r / ((1 - √b2) |s|₁),   d_{k+1} = max(d, min(d̂, d · growth_rate))
        x ← x - η λ x (decoupled decay),   x ← x - m / (sqrt(v) + eps)

    No step is taken while |s|₁ = 0 (all gradients zero). The rate is folded into m, so a
    schedule on ``learning_rate`` acts through the moment, as in the reference.

    A NaN gradient entry gives NaN updates and a NaN state (d included), as optax's
    ``contrib.dadapt_adamw``; wrap the optimizer in ``optax.apply_if_finite`` to skip such
    steps. (Before, NaN made |s|₁ > 0 false: d and the params froze for good, silently.)
    """
    _check_common(learning_rate, d0, growth_rate)
    _checks.between("b1", b1, 0.0, 1.0, open_high=True)
    _checks.between("b2", b2, 0.0, 1.0, open_high=True)
    _checks.nonnegative("eps", eps)
    _checks.nonnegative("weight_decay", weight_decay)

    def init(params):
        dtype = jnp.result_type(float)
        zero = lambda: jnp.zeros([], dtype)  # noqa: E731  (own buffers: states may be donated)
        return DAdaptAdamState(
            jnp.zeros([], jnp.int32),
            jnp.array(d0, dtype),  # a copy: d0 may be an array, and states donated
            zero(),
            zero(),
            zeros_like(params),
            zeros_like(params, real=True),  # v holds |g|², real for complex params
            zeros_like(params),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("dadapt_adam needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        d, k = state.d, state.count.astype(state.d.dtype)
        bc = jnp.sqrt(1 - b2 ** (k + 1)) / (1 - b1 ** (k + 1)) if bias_correction else 1
        dlr = (d * at(learning_rate, state.count) * bc).astype(d.dtype)
        sqrt_b2 = jnp.sqrt(jnp.asarray(b2, d.dtype))
        x, g = _upcast(params), _upcast(updates)
        old_mu, old_nu, old_s = _upcast(state.mu), _upcast(state.nu), _upcast(state.s)
        if not decoupled:
            g = jax.tree.map(lambda g, x: g + weight_decay * x, g, x)
        acc = dlr * tree_sum(lambda g, s, v: inner(g, s / (jnp.sqrt(v) + eps)), g, old_s, old_nu)
        mu = jax.tree.map(lambda m, g: m * b1 + (dlr * (1 - b1)) * g, old_mu, g)
        nu = jax.tree.map(lambda v, g: v * b2 + (1 - b2) * abs_sq(g), old_nu, g)
        s = jax.tree.map(lambda s, g: s * sqrt_b2 + (dlr * (1 - sqrt_b2)) * g, old_s, g)
        numerator = sqrt_b2 * state.numerator + (1 - sqrt_b2) * acc
        l1 = tree_sum(jnp.abs, s)
        step = l1 != 0  # not `l1 > 0`: a NaN |s|₁ steps, so NaN reaches d and the updates
        d_hat = numerator / ((1 - sqrt_b2) * jnp.where(step, l1, 1))
        d_new = _grow(d, d_hat, growth_rate)

        def target(x, m, v):
            y = x + (-weight_decay * dlr) * x if decoupled else x
            return y + (-1.0) * (m / (jnp.sqrt(v) + eps))

        out = _step_to(params, jax.tree.map(target, x, mu, nu), step)
        keep = lambda new, old: jnp.where(step, new, old).astype(old.dtype)  # noqa: E731
        return out, DAdaptAdamState(
            jnp.where(step, optax.safe_increment(state.count), state.count),
            keep(d_new, d),
            keep(numerator, state.numerator),
            keep(dlr, state.learning_rate),
            _cast_like(mu, state.mu),
            _cast_like(nu, state.nu),
            _cast_like(s, state.s),
        )

    return accepting_extra_args(init, update)


class DAdaptSGDState(NamedTuple):
    count: jax.Array  # int32 k, steps taken
    d: jax.Array
    numerator: jax.Array  # Σ η <g, s>
    g0_norm: jax.Array  # |g| of the first nonzero gradient (0 before)
    learning_rate: jax.Array  # d·lr / |g0| of the last step
    s: optax.Updates  # Σ η g
    x0: optax.Params

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, open_low=True, schedule=True),
    momentum=_checks.real(0, 1, open_high=True),
    weight_decay=_checks.NONNEGATIVE,
    d0=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
)
def dadapt_sgd(
    learning_rate: Hyper = 1.0,
    momentum: ArrayLike = 0.0,
    *,
    weight_decay: ArrayLike = 0.0,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = float("inf"),
) -> optax.GradientTransformation:
    """D-Adapted SGD (dual averaging), for step k with d = d_k:

        η = d · lr_k / |g_0|                 (g_0 the first gradient, coupled decay included)
        r ← r + η <g, s>,   s ← s + η g      (the old s in the product)
        d̂ = 2 r / |s|₂,   d_{k+1} = max(d, min(d̂, d · growth_rate))
        z = x0 - s,   x ← (1 - c) x + c z    (c = 1 - momentum; c = 1 gives x = z)

    No step is taken while |s|₂ = 0. The norms do not overflow where the squares would
    (|g| of entries of 1e30 in float32 is finite, and so is d). A NaN gradient entry
    gives NaN updates and a NaN state, as the other optimizers and optax's; wrap the
    optimizer in ``optax.apply_if_finite`` to skip such steps. (Before, NaN made |s|₂ > 0
    false: d and the params froze for good, silently.)
    """
    _check_common(learning_rate, d0, growth_rate)
    _checks.between("momentum", momentum, 0.0, 1.0, open_high=True)
    _checks.nonnegative("weight_decay", weight_decay)

    def init(params):
        dtype = jnp.result_type(float)
        zero = lambda: jnp.zeros([], dtype)  # noqa: E731  (own buffers: states may be donated)
        return DAdaptSGDState(
            jnp.zeros([], jnp.int32),
            jnp.array(d0, dtype),  # a copy: d0 may be an array, and states donated
            zero(),
            zero(),
            zero(),
            zeros_like(params),
            jax.tree.map(jnp.array, params),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("dadapt_sgd needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        d = state.d
        x, old_s = _upcast(params), _upcast(state.s)
        g = jax.tree.map(lambda g, x: g + weight_decay * x, _upcast(updates), x)
        # `!= 0` rather than `> 0` here and in `step`: a NaN norm is not "no gradient yet",
        # so NaN reaches the rate, d and the updates instead of freezing them.
        g0 = jnp.where(state.g0_norm != 0, state.g0_norm, tree_norm(g)).astype(d.dtype)
        dlr = jnp.where(g0 != 0, d * at(learning_rate, state.count) / jnp.where(g0 != 0, g0, 1), 0)
        dlr = dlr.astype(d.dtype)
        numerator = state.numerator + dlr * tree_sum(inner, g, old_s)
        s = jax.tree.map(lambda s, g: s + dlr * g, old_s, g)
        norm = tree_norm(s)
        step = norm != 0
        d_hat = 2 * numerator / jnp.where(step, norm, 1)
        d_new = _grow(d, d_hat, growth_rate)
        c = 1 - momentum

        def target(x, x0, s):
            z = x0 - s
            return x * (1 - c) + c * z

        out = _step_to(params, jax.tree.map(target, x, _upcast(state.x0), s), step)
        keep = lambda new, old: jnp.where(step, new, old).astype(old.dtype)  # noqa: E731
        return out, DAdaptSGDState(
            jnp.where(step, optax.safe_increment(state.count), state.count),
            keep(d_new, d),
            keep(numerator, state.numerator),
            g0,
            keep(dlr, state.learning_rate),
            _cast_like(s, state.s),
            state.x0,
        )

    return accepting_extra_args(init, update)


class DAdaptAdaGradState(NamedTuple):
    count: jax.Array  # int32 k, steps taken
    d: jax.Array
    gsq_weighted: jax.Array  # Σ η² Σ g² / (sqrt(α) + eps)
    sksq_weighted: jax.Array  # Σ s² / (sqrt(α) + eps), tracked by increments
    skl1: jax.Array  # |s|₁, tracked by increments
    learning_rate: jax.Array  # d·lr of the last step
    alpha: optax.Updates  # accumulated g², from initial_accumulator_value
    s: optax.Updates  # Σ η g
    x0: optax.Params

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, open_low=True, schedule=True),
    momentum=_checks.real(0, 1, open_high=True),
    eps=_checks.POSITIVE,
    weight_decay=_checks.NONNEGATIVE,
    initial_accumulator_value=_checks.NONNEGATIVE,
    d0=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
)
def dadapt_adagrad(
    learning_rate: Hyper = 1.0,
    momentum: ArrayLike = 0.0,
    eps: ArrayLike = 1e-6,
    *,
    weight_decay: ArrayLike = 0.0,
    initial_accumulator_value: ArrayLike = 1e-6,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = float("inf"),
) -> optax.GradientTransformation:
    """D-Adapted AdaGrad (dual averaging), for step k with η = d_k · lr_k:

        g ← g + λ x,   α ← α + g²,   s ← s + η g
        G ← G + η² Σ g² / (sqrt(α) + eps),   Q = Σ s² / (sqrt(α) + eps)
        d̂ = (Q - G) / |s|₁,   d_{k+1} = max(d, min(d̂, d · growth_rate))
        z = x0 - s / (sqrt(α) + eps),   x ← (1 - c) x + c z   (c = 1 - momentum)

    Q and |s|₁ are tracked by their increments, as the reference does (its sums differ
    from a fresh recomputation by rounding). No step is taken while |s|₁ = 0. Where α
    overflows to inf (|g| ≳ 1e19 in float32, as AdaGrad's sum of squares) its coordinates
    stop moving and add nothing to Q and G, rather than making them inf / inf = NaN. A NaN
    gradient entry gives NaN updates and a NaN state; see `dadapt_adam`.
    """
    _check_common(learning_rate, d0, growth_rate)
    _checks.between("momentum", momentum, 0.0, 1.0, open_high=True)
    _checks.positive("eps", eps)
    _checks.nonnegative("weight_decay", weight_decay)
    _checks.nonnegative("initial_accumulator_value", initial_accumulator_value)

    def init(params):
        dtype = jnp.result_type(float)
        zero = lambda: jnp.zeros([], dtype)  # noqa: E731  (own buffers: states may be donated)
        alpha = jax.tree.map(
            lambda z: jnp.full_like(z, initial_accumulator_value), zeros_like(params, real=True)
        )
        return DAdaptAdaGradState(
            jnp.zeros([], jnp.int32),
            jnp.array(d0, dtype),  # a copy: d0 may be an array, and states donated
            zero(),
            zero(),
            zero(),
            zero(),
            alpha,
            zeros_like(params),
            jax.tree.map(jnp.array, params),
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("dadapt_adagrad needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        d = state.d
        dlr = (d * at(learning_rate, state.count)).astype(d.dtype)
        x, old_s, old_alpha = _upcast(params), _upcast(state.s), _upcast(state.alpha)
        g = jax.tree.map(lambda g, x: g + weight_decay * x, _upcast(updates), x)

        def weighted(s, a):
            # |s|² / (sqrt(α) + eps), as written where |s|² is finite (the reference's
            # roundings). Where it overflows (|s| ≳ 1e19 in float32) the quotient may still
            # be finite, so it is formed as |s| · (|s| / (sqrt(α) + eps)); when α has
            # overflowed as well (it holds Σ g², so |g| ≳ 1e19 makes it inf) that is 0,
            # not inf / inf = NaN: such coordinates stop moving, as AdaGrad's, and add
            # nothing to the estimate of d.
            sq, den = abs_sq(s), jnp.sqrt(a) + eps
            return jnp.where(jnp.isposinf(sq), jnp.abs(s) * (jnp.abs(s) / den), sq / den)

        old_q = tree_sum(weighted, old_s, old_alpha)
        old_l1 = tree_sum(jnp.abs, old_s)
        alpha = jax.tree.map(lambda a, g: a + abs_sq(g), old_alpha, g)
        g_sq = tree_sum(weighted, g, alpha)
        s = jax.tree.map(lambda s, g: s + dlr * g, old_s, g)
        sksq = state.sksq_weighted + (tree_sum(weighted, s, alpha) - old_q)
        skl1 = state.skl1 + (tree_sum(jnp.abs, s) - old_l1)
        step = skl1 != 0
        gsq = state.gsq_weighted + dlr * dlr * g_sq
        d_hat = (sksq - gsq) / jnp.where(step, skl1, 1)
        d_new = _grow(d, d_hat, growth_rate)
        c = 1 - momentum

        def target(x, x0, s, a):
            z = x0 - s / (jnp.sqrt(a) + eps)
            return x * (1 - c) + c * z

        out = _step_to(params, jax.tree.map(target, x, _upcast(state.x0), s, alpha), step)
        keep = lambda new, old: jnp.where(step, new, old).astype(old.dtype)  # noqa: E731
        return out, DAdaptAdaGradState(
            jnp.where(step, optax.safe_increment(state.count), state.count),
            keep(d_new, d),
            keep(gsq, state.gsq_weighted),
            sksq.astype(state.sksq_weighted.dtype),
            skl1.astype(state.skl1.dtype),
            keep(dlr, state.learning_rate),
            _cast_like(alpha, state.alpha),
            _cast_like(s, state.s),
            state.x0,
        )

    return accepting_extra_args(init, update)
