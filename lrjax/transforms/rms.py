"""Per-coordinate rates from accumulated squared gradients: AdaGrad, AdaDelta, RMSprop.

Complex parameters: every square below is |g|² = g·conj(g), so second moments are real
(stored in the real dtype, float32 for complex64) and the first moment stays complex, as
in optax. (``lrjax.compat.torch`` instead treats a complex tensor as its real view, as
torch does.)"""

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
    check_nonnegative,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    descent,
    is_zero,
    leafwise,
    lerp,
    per_dtype,
    real_dtype,
    scalar,
    strong,
    zeros_like,
)
from lrjax.transforms.sgd import scale_by_momentum


def _denominator(s: jax.Array, eps: jax.Array, eps_in_sqrt: bool) -> jax.Array:
    """sqrt(s) + eps (PyTorch, Keras) or sqrt(s + eps) (optax's default for RMSprop)."""
    return jnp.sqrt(s + eps) if eps_in_sqrt else jnp.sqrt(s) + eps


class ScaleByAdagradState(NamedTuple):
    sum_of_squares: optax.Updates  # S, in nu_dtype


@copies_arrays
@_checks.arguments(initial_accumulator_value=_checks.SCHEDULED, eps=_checks.SCHEDULED)
def scale_by_adagrad(
    initial_accumulator_value: Hyper = 0.0,
    eps: Hyper = 1e-10,
    *,
    eps_in_sqrt: bool = False,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaGrad's scaling: ``S ← S + g²``, ``u = g / (sqrt(S) + eps)``.

    ``S_0 = initial_accumulator_value`` in every coordinate. With ``eps_in_sqrt`` the
    denominator is ``sqrt(S + eps)``, and coordinates where S is 0 give 0, as
    ``optax.scale_by_rss``; a NaN in S gives NaN there (it used to give a silent 0).

    Reference: Duchi, Hazan & Singer, "Adaptive subgradient methods for online learning and
    stochastic optimization", JMLR 2011; PyTorch ``torch.optim.Adagrad``.
    """
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)
    check_nonnegative("eps", eps)

    def init(params):
        zeros = zeros_like(params, nu_dtype, real=True)
        return ScaleByAdagradState(
            jax.tree.map(lambda z: jnp.full_like(z, initial_accumulator_value), zeros)
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.sum_of_squares, "accumulator (built from the params)")

        def leaf(g, s):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            x = g.astype(dtype)
            new = s.astype(real) + abs_sq(x)
            e = scalar(eps, real)
            if eps_in_sqrt:
                # S = 0 (so g = 0) gives 0, not 0 · rsqrt(0) = NaN when eps = 0; `new == 0`
                # rather than `new > 0`, so that a NaN in S gives a NaN update instead of a
                # silent 0 (optax's 0 · NaN propagates too).
                out = jnp.where(new == 0, 0, x * jax.lax.rsqrt(new + e))
            else:
                out = x / (jnp.sqrt(new) + e)
            return out.astype(g.dtype), new.astype(s.dtype)

        out, s = leafwise(leaf, updates, state.sum_of_squares)
        return out, ScaleByAdagradState(s)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    **_checks.OPTIMIZER,
    initial_accumulator_value=_checks.SCHEDULED,
    eps=_checks.SCHEDULED,
    lr_decay=_checks.WEIGHT_DECAY,
)
def adagrad(
    learning_rate: Hyper,
    *,
    initial_accumulator_value: Hyper = 0.0,
    eps: Hyper = 1e-10,
    lr_decay: Hyper | None = None,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    eps_in_sqrt: bool = False,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaGrad, as ``torch.optim.Adagrad``.

        g ← g + λ θ
        S ← S + g²                          (S_0 = initial_accumulator_value)
        θ ← θ - η_t / (1 + t·lr_decay) · g / (sqrt(S) + eps)

    with ``η_t = learning_rate(t)`` and t the updates already applied (0 first). The rate
    decay (a `scale_by_lr_decay` piece) and the weight decay λ are optional terms: None,
    the default, is no decay (a literal 0 also leaves the term out; an array, even a zero
    one, keeps it, so that ``optax.inject_hyperparams`` sees one state structure).

    Defaults are torch's (S_0 = 0, eps = 1e-10 outside the square root). optax's
    ``adagrad`` defaults to S_0 = 0.1 and eps = 1e-7 inside the root:
    ``adagrad(lr, initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True)`` is that.

    Reference: Duchi, Hazan & Singer, JMLR 2011.
    """
    scalings = [
        scale_by_adagrad(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype)
    ]
    if not is_zero(lr_decay):
        scalings.append(scale_by_lr_decay(lr_decay))
    return descent(*scalings, learning_rate=learning_rate, weight_decay=weight_decay, mask=mask)


class ScaleByLrDecayState(NamedTuple):
    """State of `scale_by_lr_decay`: the int32 count of updates it applied (saturating),
    and the factor 1 / (1 + t·lr_decay) of the last one (part of the rate in effect)."""

    count: jax.Array
    factor: jax.Array

    def applied_lr(self) -> jax.Array:
        return self.factor


@copies_arrays
@_checks.arguments(lr_decay=_checks.SCHEDULED)
def scale_by_lr_decay(lr_decay: Hyper) -> optax.GradientTransformation:
    """AdaGrad's rate decay: multiply update t = 0, 1, ... by ``1 / (1 + t·lr_decay)``.

    The count is this piece's own, as torch's per-parameter ``step``: a step in which no
    parameter has a gradient advances neither (see `lrjax.compat.torch`), while the
    learning-rate schedule, like torch's scheduler, still moves on.

    Reference: PyTorch ``torch.optim.Adagrad`` (``clr = lr / (1 + (step - 1) lr_decay)``).
    """
    check_nonnegative("lr_decay", lr_decay)

    def factor(count):
        return strong(1 / (1 + count * at(lr_decay, count)))

    def init(params):
        del params
        count = jnp.zeros([], jnp.int32)
        return ScaleByLrDecayState(count, factor(count))

    def update(updates, state, params=None):
        del params
        f = factor(state.count)
        out = jax.tree.map(lambda u: (f * u).astype(u.dtype), updates)
        return out, ScaleByLrDecayState(optax.safe_increment(state.count), f)

    return optax.GradientTransformation(init, update)


class ScaleByAdadeltaState(NamedTuple):
    nu: optax.Updates  # v, running mean of g², in nu_dtype
    delta: optax.Updates  # u, running mean of Δ², in nu_dtype


@copies_arrays
@_checks.arguments(rho=_checks.UNIT, eps=_checks.SCHEDULED)
def scale_by_adadelta(
    rho: Hyper = 0.9, eps: Hyper = 1e-6, *, nu_dtype: Any = None
) -> optax.GradientTransformation:
    """AdaDelta's scaling (eps inside both square roots; v_0 = u_0 = 0):

        v ← ρ v + (1 - ρ) g²
        Δ = sqrt(u + eps) / sqrt(v + eps) · g
        u ← ρ u + (1 - ρ) Δ²

    Reference: Zeiler, "ADADELTA: an adaptive learning rate method", arXiv:1212.5701, 2012;
    PyTorch ``torch.optim.Adadelta``; ``optax.scale_by_adadelta``.
    """
    check_unit("rho", rho)
    check_nonnegative("eps", eps)

    def init(params):
        return ScaleByAdadeltaState(
            zeros_like(params, nu_dtype, real=True), zeros_like(params, nu_dtype, real=True)
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.nu, "accumulators (built from the params)")

        weights = per_dtype(lambda d: (scalar(rho, d), complement(rho, d)))

        def leaf(g, v, u):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            x = g.astype(dtype)
            (p, w), e = weights(real), scalar(eps, real)
            v_new = p * v.astype(real) + w * abs_sq(x)
            u_old = u.astype(real)
            delta = jnp.sqrt(u_old + e) / jnp.sqrt(v_new + e) * x
            u_new = p * u_old + w * abs_sq(delta)
            return delta.astype(g.dtype), v_new.astype(v.dtype), u_new.astype(u.dtype)

        out, v, u = leafwise(leaf, updates, state.nu, state.delta)
        return out, ScaleByAdadeltaState(v, u)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, rho=_checks.UNIT, eps=_checks.SCHEDULED)
def adadelta(
    learning_rate: Hyper = 1.0,
    *,
    rho: Hyper = 0.9,
    eps: Hyper = 1e-6,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdaDelta: ``θ ← θ - η_t Δ`` with Δ from `scale_by_adadelta` and coupled weight decay.

    The learning rate defaults to 1.0, as in the paper and PyTorch, so the default
    optimizer descends. (optax's ``adadelta()`` defaults to no learning rate and then
    returns +Δ, which ascends.)

    Reference: Zeiler 2012; PyTorch ``torch.optim.Adadelta``.
    """
    return descent(
        scale_by_adadelta(rho, eps, nu_dtype=nu_dtype),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
    )


class ScaleByRmsState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    nu: optax.Updates  # v, running mean of g², in nu_dtype
    mu: optax.Updates  # ḡ, running mean of g (centered only, else None), in mu_dtype


@copies_arrays
@_checks.arguments(decay=_checks.UNIT, eps=_checks.SCHEDULED)
def scale_by_rms(
    decay: Hyper = 0.99,
    eps: Hyper = 1e-8,
    *,
    centered: bool = False,
    eps_in_sqrt: bool = False,
    bias_correction: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """RMSprop's scaling (v_0 = ḡ_0 = 0):

        v ← α v + (1 - α) g²
        ḡ ← α ḡ + (1 - α) g                      (centered only)
        u = g / (sqrt(v - ḡ²) + eps)             (ḡ = 0 when not centered)

    With ``eps_in_sqrt`` the denominator is ``sqrt(v - ḡ² + eps)`` (optax's default).
    With ``bias_correction`` (off in RMSprop; on in schedule-free AdamW) v is divided by
    ``1 - α^t`` for update t = 1, 2, ... before the root.

    Where v overflows to inf (|g| ≳ 1e19 in float32) the step is 0, also when centered
    (v - ḡ² is taken to be inf there; optax and torch give NaN).

    Reference: Hinton, Srivastava & Swersky, "Neural networks for machine learning",
    lecture 6e, 2012; Graves, "Generating sequences with recurrent neural networks",
    arXiv:1308.0850, 2013 (centered); PyTorch ``torch.optim.RMSprop``.
    """
    check_unit("decay", decay)
    check_nonnegative("eps", eps)

    def init(params):
        mu = zeros_like(params, mu_dtype) if centered else None
        nu = zeros_like(params, nu_dtype, real=True)
        return ScaleByRmsState(jnp.zeros([], jnp.int32), nu, mu)

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.nu, "accumulator (built from the params)")
        count = optax.safe_increment(state.count)

        weights = per_dtype(
            lambda d: (
                scalar(decay, d),
                complement(decay, d),
                1 - scalar(decay, d) ** count.astype(d) if bias_correction else None,
            )
        )

        def leaf(g, v, *m):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            x = g.astype(dtype)
            (a, w, bc), e = weights(real), scalar(eps, real)
            v_new = a * v.astype(real) + w * abs_sq(x)
            corrected = v_new / bc if bias_correction else v_new
            if not centered:
                out = x / _denominator(corrected, e, eps_in_sqrt)
                return out.astype(g.dtype), v_new.astype(v.dtype)
            m_new = lerp(m[0].astype(dtype), x, w)
            # v ≥ ḡ² (Cauchy-Schwarz: both average with the same weights), so where v has
            # overflowed to inf (|g| ≳ 1e19 in float32, as optax's and torch's v) the
            # variance is inf too and the step 0; v - ḡ² would be inf - inf = NaN there.
            var = jnp.where(jnp.isposinf(corrected), corrected, corrected - abs_sq(m_new))
            out = x / _denominator(var, e, eps_in_sqrt)
            return out.astype(g.dtype), v_new.astype(v.dtype), m_new.astype(m[0].dtype)

        if centered:
            out, v, m = leafwise(leaf, updates, state.nu, state.mu)
        else:
            (out, v), m = leafwise(leaf, updates, state.nu), None
        return out, ScaleByRmsState(count, v, m)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    **_checks.OPTIMIZER,
    decay=_checks.UNIT,
    eps=_checks.SCHEDULED,
    momentum=_checks.real(0, 1, open_high=True, schedule=True, optional=True),
)
def rmsprop(
    learning_rate: Hyper,
    *,
    decay: Hyper = 0.99,
    eps: Hyper = 1e-8,
    centered: bool = False,
    momentum: Hyper | None = None,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    eps_in_sqrt: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """RMSprop, as ``torch.optim.RMSprop``:

        g ← g + λ θ
        u = g / (sqrt(v - ḡ²) + eps)            (see `scale_by_rms`)
        B ← μ B + u                              (momentum only; B_0 = 0)
        θ ← θ - η_t B   (or θ - η_t u without momentum)

    The momentum buffer accumulates unscaled steps and the learning rate is applied last,
    so a learning-rate schedule gives PyTorch's trajectory. optax's ``rmsprop`` puts the
    rate before its momentum and differs under a schedule. Defaults are torch's
    (decay 0.99, eps outside the root); optax's are decay 0.9 with eps inside the root.

    Reference: Hinton et al. 2012; Graves 2013.
    """
    scalings = [
        scale_by_rms(
            decay,
            eps,
            centered=centered,
            eps_in_sqrt=eps_in_sqrt,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        ),
    ]
    if momentum is not None:
        scalings.append(scale_by_momentum(momentum, mu_dtype=mu_dtype))
    return descent(*scalings, learning_rate=learning_rate, weight_decay=weight_decay, mask=mask)
