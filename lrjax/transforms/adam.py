"""Adam and its family: AMSGrad, AdamW, NAdam, RAdam, Adamax.

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
    zeros_like,
)


class ScaleByAdamState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    mu: optax.Updates  # first moment m, in mu_dtype
    nu: optax.Updates  # second moment v, in nu_dtype
    nu_max: optax.Updates  # AMSGrad: running max of v, in nu_dtype; None otherwise


def _check_betas(b1: Hyper, b2: Hyper, eps: Hyper) -> None:
    check_unit("b1", b1)
    check_unit("b2", b2)
    check_nonnegative("eps", eps)


def _moments(
    updates: optax.Updates, state: Any, b1: jax.Array, b2: jax.Array, extra, *trees
) -> tuple:
    """Update m and v leafwise, then call ``extra(x, m, v, *leaves) -> (out, *new)``.

    m ← b1 m + (1 - b1) g and v ← b2 v + (1 - b2) |g|², computed in at least float32 and
    stored in each moment's dtype; `extra` turns them into the update. For complex g,
    |g|² = g·conj(g) is real and so is v (optax's convention); m stays complex.
    """

    weights = per_dtype(lambda d: (complement(b1, d), scalar(b2, d), complement(b2, d)))

    def leaf(g, m, v, *rest):
        dtype = compute_dtype(g)
        real = real_dtype(dtype)
        x = g.astype(dtype)
        w1, c2, w2 = weights(real)
        m_new = lerp(m.astype(dtype), x, w1)
        v_new = c2 * v.astype(real) + w2 * abs_sq(x)
        out, *new = extra(x, m_new, v_new, *rest)
        return (
            out.astype(g.dtype),
            m_new.astype(m.dtype),
            v_new.astype(v.dtype),
            *(n.astype(r.dtype) for n, r in zip(new, rest, strict=True)),
        )

    check_structure(updates, state.mu, "optimizer state (built from the params)")
    return leafwise(leaf, updates, state.mu, state.nu, *trees)


def _init_moments(params, mu_dtype, nu_dtype):
    """The count, m (the params' dtype, complex included) and v (real: |g|² is real)."""
    count = jnp.zeros([], jnp.int32)
    return count, zeros_like(params, mu_dtype), zeros_like(params, nu_dtype, real=True)


@copies_arrays
@_checks.arguments(**_checks.MOMENTS, eps_root=_checks.SCHEDULED)
def scale_by_adam(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    eps_root: Hyper = 0.0,
    amsgrad: bool = False,
    eps_hat: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam's scaling, for update t = 1, 2, ... (m_0 = v_0 = 0):

        m ← b1 m + (1 - b1) g,   v ← b2 v + (1 - b2) g²
        V = max(V, v) with V_0 = 0 (AMSGrad), else V = v
        u = [m / (1 - b1^t)] / (sqrt(V / (1 - b2^t) + eps_root) + eps)

    This is Algorithm 1 of Kingma & Ba, and ``optax.scale_by_adam`` (to rounding) when
    ``amsgrad=False``. AMSGrad keeps the maximum of the raw v and bias-corrects it, as
    ``torch.optim.Adam(amsgrad=True)``; optax's ``amsgrad`` takes the maximum of the
    corrected v̂ instead, so they differ. `b1` and `b2` may be schedules of the update
    count (torch's ``OneCycleLR`` cycles ``betas[0]``); the bias correction then uses the
    current value, ``1 - b1(t)^t``, as torch does.

    ``eps_hat=True`` adds eps to the uncorrected root instead, the "ε̂" form at the end of
    Kingma & Ba's section 2 used by TensorFlow/Keras and the hypergradient reference code:
    ``u = m · sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(V) + eps)``.

    References: Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015;
    Reddi, Kale & Kumar, "On the convergence of Adam and beyond", ICLR 2018 (AMSGrad).
    """
    _check_betas(b1, b2, eps)
    check_nonnegative("eps_root", eps_root)

    def init(params):
        count, mu, nu = _init_moments(params, mu_dtype, nu_dtype)
        v_max = zeros_like(params, nu_dtype, real=True) if amsgrad else None
        return ScaleByAdamState(count, mu, nu, v_max)

    def update(updates, state, params=None):
        del params
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        t = optax.safe_increment(state.count)

        def corrections(dtype):
            step = t.astype(dtype)
            return 1 - scalar(beta1, dtype) ** step, 1 - scalar(beta2, dtype) ** step

        corrections = per_dtype(corrections)

        def direction(x, m, v, *v_max):
            dtype = v.dtype
            bc1, bc2 = corrections(dtype)
            big_v = jnp.maximum(v_max[0].astype(dtype), v) if amsgrad else v
            if not is_zero(eps_root):
                big_v = big_v + bc2 * scalar(eps_root, dtype)  # v̂ + eps_root, scaled by bc2
            if eps_hat:
                out = m * (jnp.sqrt(bc2) / bc1) / (jnp.sqrt(big_v) + scalar(eps, dtype))
            else:
                out = m * (1 / bc1) / (jnp.sqrt(big_v * (1 / bc2)) + scalar(eps, dtype))
            return (out, big_v) if amsgrad else (out,)

        extra = (state.nu_max,) if amsgrad else ()
        out, mu, nu, *v_max = _moments(updates, state, beta1, beta2, direction, *extra)
        return out, ScaleByAdamState(t, mu, nu, v_max[0] if amsgrad else None)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS, eps_root=_checks.SCHEDULED)
def adam(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    eps_root: Hyper = 0.0,
    amsgrad: bool = False,
    weight_decay: Hyper | None = None,
    decoupled_weight_decay: bool = False,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam: ``θ ← θ - η_t u`` with u from `scale_by_adam`.

    ``weight_decay`` is L2 (added to the gradient), as in ``torch.optim.Adam``, unless
    ``decoupled_weight_decay``, which is AdamW. Equals ``optax.adam`` when there is no
    weight decay and no AMSGrad, and ``torch.optim.Adam`` always.

    Reference: Kingma & Ba, ICLR 2015.
    """
    return descent(
        scale_by_adam(
            b1, b2, eps, eps_root=eps_root, amsgrad=amsgrad, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        ),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
        decoupled=decoupled_weight_decay,
    )


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    **_checks.MOMENTS,
    eps_root=_checks.SCHEDULED,
    weight_decay=_checks.SCHEDULED,
)
def adamw(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    weight_decay: Hyper = 1e-2,
    mask: Any = None,
    eps_root: Hyper = 0.0,
    amsgrad: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """AdamW: Adam with decoupled weight decay, ``θ ← θ - η_t (u + λ θ)``.

    `mask` (a pytree of bools or a callable on the params) selects the decayed leaves; it
    does not affect the moments. The default λ = 1e-2 is PyTorch's; optax's ``adamw``
    defaults to 1e-4.

    Reference: Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019.
    """
    return adam(
        learning_rate,
        b1,
        b2,
        eps,
        eps_root=eps_root,
        amsgrad=amsgrad,
        weight_decay=weight_decay,
        decoupled_weight_decay=True,
        mask=mask,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


class ScaleByNadamState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    mu_product: jax.Array  # Π_t = μ_1 ⋯ μ_t, float
    mu: optax.Updates  # first moment m, in mu_dtype
    nu: optax.Updates  # second moment v, in nu_dtype


@copies_arrays
@_checks.arguments(**_checks.MOMENTS, momentum_decay=_checks.WEIGHT_DECAY)
def scale_by_nadam(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    momentum_decay: Hyper | None = 4e-3,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NAdam's scaling, for update t = 1, 2, ... with ψ = momentum_decay:

        μ_t = b1 (1 - 0.96^(t ψ) / 2),   Π_t = Π_{t-1} μ_t   (Π_0 = 1)
        m ← b1 m + (1 - b1) g,   v ← b2 v + (1 - b2) g²
        d = sqrt(v / (1 - b2^t)) + eps
        u = (1 - μ_t) / (1 - Π_t) · g / d + μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d

    This is ``torch.optim.NAdam`` (Dozat's momentum schedule). With
    ``momentum_decay=None`` the momentum is constant, μ_t = b1, which is Dozat's
    simplified form and ``optax.scale_by_adam(nesterov=True)``.

    Reference: Dozat, "Incorporating Nesterov momentum into Adam", ICLR workshop 2016.
    """
    _check_betas(b1, b2, eps)
    if momentum_decay is not None:
        check_nonnegative("momentum_decay", momentum_decay)

    def init(params):
        count, mu, nu = _init_moments(params, mu_dtype, nu_dtype)
        return ScaleByNadamState(count, jnp.ones([], jnp.result_type(float)), mu, nu)

    def update(updates, state, params=None):
        del params
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        t = optax.safe_increment(state.count)
        dtype = state.mu_product.dtype
        step, c1 = t.astype(dtype), scalar(beta1, dtype)
        if momentum_decay is None:
            mu_t = mu_next = c1
        else:
            psi = scalar(momentum_decay, dtype)
            mu_t = c1 * (1 - 0.5 * 0.96 ** (step * psi))
            mu_next = c1 * (1 - 0.5 * 0.96 ** ((step + 1) * psi))
        product = state.mu_product * mu_t
        coef_g = (1 - mu_t) / (1 - product)
        coef_m = mu_next / (1 - product * mu_next)

        coefficients = per_dtype(
            lambda dt: (
                1 / (1 - scalar(beta2, dt) ** step.astype(dt)),
                scalar(coef_g, dt),
                scalar(coef_m, dt),
            )
        )

        def direction(x, m, v):
            inv_bc2, cg, cm = coefficients(v.dtype)
            d = jnp.sqrt(v * inv_bc2) + scalar(eps, v.dtype)
            return ((cg * x + cm * m) / d,)

        out, mu, nu = _moments(updates, state, beta1, beta2, direction)
        return out, ScaleByNadamState(t, product, mu, nu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS, momentum_decay=_checks.WEIGHT_DECAY)
def nadam(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    momentum_decay: Hyper | None = 4e-3,
    weight_decay: Hyper | None = None,
    decoupled_weight_decay: bool = False,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """NAdam: ``θ ← θ - η_t u`` with u from `scale_by_nadam`; weight decay as in `adam`.

    The default is ``torch.optim.NAdam``; ``momentum_decay=None`` gives ``optax.nadam``.

    Reference: Dozat 2016.
    """
    return descent(
        scale_by_nadam(
            b1, b2, eps, momentum_decay=momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        ),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
        decoupled=decoupled_weight_decay,
    )


@copies_arrays
@_checks.arguments(**_checks.MOMENTS, threshold=_checks.real(4, schedule=True))
def scale_by_radam(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    threshold: Hyper = 5.0,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Rectified Adam's scaling, for update t = 1, 2, ...:

        m, v as Adam;   m̂ = m / (1 - b1^t)
        ρ∞ = 2 / (1 - b2) - 1,   ρ_t = ρ∞ - 2 t b2^t / (1 - b2^t)
        r_t = sqrt((ρ_t - 4)(ρ_t - 2) ρ∞ / ((ρ∞ - 4)(ρ∞ - 2) ρ_t))
        u = m̂ · r_t · sqrt(1 - b2^t) / (sqrt(v) + eps)   if ρ_t > threshold
        u = m̂                                            otherwise

    eps is added to the uncorrected sqrt(v), as in ``torch.optim.RAdam``; optax's
    ``scale_by_radam`` adds it to the corrected one. With b2 = 0.999 the first five
    updates are plain momentum steps.

    Reference: Liu et al., "On the variance of the adaptive learning rate and beyond",
    ICLR 2020.
    """
    _check_betas(b1, b2, eps)
    if not callable(threshold):
        _checks.finite("threshold", threshold)

    def init(params):
        return ScaleByAdamState(*_init_moments(params, mu_dtype, nu_dtype), None)

    def update(updates, state, params=None):
        del params
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        t = optax.safe_increment(state.count)

        def coefficients(dtype):
            step, c1, c2 = t.astype(dtype), scalar(beta1, dtype), scalar(beta2, dtype)
            bc2 = 1 - c2**step
            rho_inf = 2 / complement(beta2, dtype) - 1
            rho_t = rho_inf - 2 * step * c2**step / bc2
            adaptive = rho_t > scalar(threshold, dtype)
            ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            rect = jnp.sqrt(jnp.where(adaptive, ratio, 1))  # the unused branch stays finite
            return 1 - c1**step, adaptive, rect * jnp.sqrt(bc2)

        coefficients = per_dtype(coefficients)

        def direction(x, m, v):
            bc1, adaptive, scale = coefficients(v.dtype)
            m_hat = m / bc1
            eps_ = scalar(eps, v.dtype)
            return (jnp.where(adaptive, m_hat * scale / (jnp.sqrt(v) + eps_), m_hat),)

        out, mu, nu = _moments(updates, state, beta1, beta2, direction)
        return out, ScaleByAdamState(t, mu, nu, None)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS, threshold=_checks.real(4, schedule=True))
def radam(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    threshold: Hyper = 5.0,
    weight_decay: Hyper | None = None,
    decoupled_weight_decay: bool = False,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """RAdam: ``θ ← θ - η_t u`` with u from `scale_by_radam`; weight decay as in `adam`.

    Reference: Liu et al., ICLR 2020; PyTorch ``torch.optim.RAdam``.
    """
    return descent(
        scale_by_radam(b1, b2, eps, threshold=threshold, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
        decoupled=decoupled_weight_decay,
    )


@copies_arrays
@_checks.arguments(**_checks.MOMENTS)
def scale_by_adamax(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adamax's scaling (the infinity-norm Adam), for update t = 1, 2, ...:

        m ← b1 m + (1 - b1) g,   u ← max(b2 u, |g| + eps)   (u_0 = 0)
        out = m / ((1 - b1^t) u)

    For complex g, |g| is the modulus and u is real, as in ``optax.scale_by_adamax``.

    Only the first moment is bias-corrected; eps sits inside the max, as in
    ``torch.optim.Adamax`` and ``optax.scale_by_adamax``.

    Reference: Kingma & Ba, ICLR 2015, section 7.1.
    """
    _check_betas(b1, b2, eps)

    def init(params):
        return ScaleByAdamState(*_init_moments(params, mu_dtype, nu_dtype), None)

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        t = optax.safe_increment(state.count)

        coefficients = per_dtype(
            lambda d: (
                complement(beta1, d),
                scalar(beta2, d),
                1 - scalar(beta1, d) ** t.astype(d),
            )
        )

        def leaf(g, m, u):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            x = g.astype(dtype)
            w1, c2, bc1 = coefficients(real)
            m_new = lerp(m.astype(dtype), x, w1)
            u_new = jnp.maximum(c2 * u.astype(real), jnp.abs(x) + scalar(eps, real))
            out = m_new / (bc1 * u_new)
            return out.astype(g.dtype), m_new.astype(m.dtype), u_new.astype(u.dtype)

        out, mu, nu = leafwise(leaf, updates, state.mu, state.nu)
        return out, ScaleByAdamState(t, mu, nu, None)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS)
def adamax(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adamax: ``θ ← θ - η_t out`` with `scale_by_adamax`, and L2 weight decay.

    Reference: Kingma & Ba, ICLR 2015; PyTorch ``torch.optim.Adamax``.
    """
    return descent(
        scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
    )


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS)
def adamaxw(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    weight_decay: Hyper = 1e-4,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adamax with decoupled weight decay: ``θ ← θ - η_t (out + λ θ)`` with
    `scale_by_adamax`; λ defaults to optax's 1e-4.

    Reference: Kingma & Ba, ICLR 2015, section 7.1; Loshchilov & Hutter, ICLR 2019;
    ``optax.adamaxw``.
    """
    return descent(
        scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        mask=mask,
        decoupled=True,
    )
