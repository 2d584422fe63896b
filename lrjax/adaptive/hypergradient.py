"""Hypergradient descent: the learning rate learned online from consecutive gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.base import decay_weights, tree_norm, zeros_like
from lrjax.transforms.sgd import scale_by_momentum


def _unit(tree: optax.Updates, norm: jax.Array) -> optax.Updates:
    """`tree` / `norm`, the tree itself where the norm is 0 (then it is all zeros)."""
    n = jnp.where(norm != 0, norm, 1)
    return jax.tree.map(lambda x: x / n, tree)


class HypergradientState(NamedTuple):
    learning_rate: jax.Array  # α used by the last update (the initial α before any)
    previous: optax.Updates  # u_{t-1}, the last direction (zeros before any update)
    inner: optax.OptState  # state of the direction transformation

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.NONNEGATIVE,
    hypergrad_lr=_checks.NONNEGATIVE,
    min_lr=_checks.real(0, optional=True),
    max_lr=_checks.real(0, optional=True),
)
def hypergradient(
    direction: optax.GradientTransformation,
    learning_rate: ArrayLike,
    hypergrad_lr: ArrayLike,
    *,
    multiplicative: bool = False,
    min_lr: ArrayLike | None = None,
    max_lr: ArrayLike | None = None,
) -> optax.GradientTransformation:
    """Learn the rate α by gradient descent on the loss with respect to α.

    With u_t = direction(g_t) and the step θ ← θ - α_t u_t, the loss after the previous step
    has d f(θ_t) / d α_{t-1} = -<g_t, u_{t-1}>, so for t = 1, 2, ... (u_0 = 0):

        additive:        α_t = α_{t-1} + β <g_t, u_{t-1}>
        multiplicative:  α_t = α_{t-1} (1 + β <g_t, u_{t-1}> / (|g_t| |u_{t-1}|))
        α_t = clip(α_t, min_lr, max_lr)                    (when bounds are given)
        updates = -α_t u_t

    The additive rule is Baydin et al.'s SGD-HD and Adam-HD; the multiplicative one is their
    normalised variant (a cosine, so β is scale-free and α stays positive for β < 1). The
    inner products run over the whole tree, as in the paper. Without bounds the additive
    rate may become negative (the reference code does not guard it either).

    The multiplicative cosine stays finite where <g, u> and |g| |u| overflow (gradients
    of 1e20 and more in float32). The additive rate overflows to inf when β <g, u> is
    beyond the dtype (gradients of 1e30: β · 1e60), and the updates with it; its updates
    overflow already for β |g|³ beyond the dtype. A NaN gradient entry gives a NaN rate
    and NaN updates.

    Reference: Baydin, Cornish, Martínez Rubio, Schmidt & Wood, "Online learning rate
    adaptation with hypergradient descent", ICLR 2018.
    """
    _checks.scalar("learning_rate", learning_rate)
    _checks.finite("learning_rate", learning_rate)
    _checks.nonnegative("hypergrad_lr", hypergrad_lr)
    if multiplicative:
        _checks.between("hypergrad_lr", hypergrad_lr, 0.0, 1.0, open_high=True)
    if min_lr is not None and max_lr is not None:
        _checks.ordered("min_lr", min_lr, "max_lr", max_lr)
    direction = optax.with_extra_args_support(direction)

    def init(params):
        rate = jnp.array(learning_rate, jnp.result_type(float))  # a copy: states may be donated
        return HypergradientState(rate, zeros_like(params), direction.init(params))

    def update(updates, state, params=None, **extra_args):
        # re(<g_t, u_{t-1}>): complex leaves count as real vectors of twice the length.
        dot = jnp.real(optax.tree.vdot(updates, state.previous))
        if multiplicative:
            g_norm, u_norm = tree_norm(updates), tree_norm(state.previous)
            norms = g_norm * u_norm
            # Σ g·u and |g| |u| overflow float32 for |g|, |u| ≳ 1e19 while the cosine, in
            # [-1, 1], does not (inf / inf gave NaN): there, and where |g| |u| underflows,
            # it is taken from the normalised vectors (0 for u = 0). A NaN gradient gives a
            # NaN cosine and rate (`norms > 0` used to turn it into a cosine of 0).
            unit = _unit(updates, g_norm), _unit(state.previous, u_norm)
            unit_cos = jnp.real(optax.tree.vdot(*unit))
            plain = dot / jnp.where(norms != 0, norms, 1)
            fits = ~jnp.isinf(dot) & ~jnp.isinf(norms) & (norms != 0)
            cosine = jnp.where(fits, plain, unit_cos)
            rate = state.learning_rate * (1 + hypergrad_lr * cosine)
        else:
            rate = state.learning_rate + hypergrad_lr * dot
        if min_lr is not None or max_lr is not None:
            rate = jnp.clip(rate, min_lr, max_lr)
        rate = rate.astype(state.learning_rate.dtype)
        u, inner = direction.update(updates, state.inner, params, **extra_args)
        out = jax.tree.map(lambda x: (-rate * x).astype(x.dtype), u)
        # u is copied: a direction may return its own state's buffer (momentum returns b),
        # and two leaves of one state must not share a buffer, so that it can be donated.
        return out, HypergradientState(rate, jax.tree.map(jnp.copy, u), inner)

    return optax.GradientTransformationExtraArgs(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.NONNEGATIVE,
    hypergrad_lr=_checks.NONNEGATIVE,
    momentum=_checks.real(0, 1, open_high=True, optional=True),
    dampening=_checks.real(0.0, 1.0),
    weight_decay=_checks.real(0, optional=True),
    min_lr=_checks.real(0, optional=True),
    max_lr=_checks.real(0, optional=True),
)
def sgd_hd(
    learning_rate: ArrayLike,
    hypergrad_lr: ArrayLike = 1e-6,
    momentum: ArrayLike | None = None,
    *,
    dampening: ArrayLike = 0.0,
    nesterov: bool = False,
    weight_decay: ArrayLike | None = None,
    multiplicative: bool = False,
    min_lr: ArrayLike | None = None,
    max_lr: ArrayLike | None = None,
) -> optax.GradientTransformation:
    """SGD-HD: `hypergradient` around plain or momentum SGD (u = g or the buffer).

    With momentum, u is the buffer b (or g + μ b with Nesterov), as in the reference
    ``SGDHD``; coupled weight decay enters g and so the hypergradient.
    """
    inner = (
        optax.identity()
        if momentum is None
        else scale_by_momentum(momentum, dampening, nesterov=nesterov)
    )
    return optax.chain(
        decay_weights(weight_decay),
        hypergradient(
            inner,
            learning_rate,
            hypergrad_lr,
            multiplicative=multiplicative,
            min_lr=min_lr,
            max_lr=max_lr,
        ),
    )


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.NONNEGATIVE,
    hypergrad_lr=_checks.NONNEGATIVE,
    b1=_checks.real(0, 1, open_high=True),
    b2=_checks.real(0, 1, open_high=True),
    eps=_checks.NONNEGATIVE,
    weight_decay=_checks.real(0, optional=True),
    min_lr=_checks.real(0, optional=True),
    max_lr=_checks.real(0, optional=True),
)
def adam_hd(
    learning_rate: ArrayLike = 1e-3,
    hypergrad_lr: ArrayLike = 1e-8,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    *,
    weight_decay: ArrayLike | None = None,
    multiplicative: bool = False,
    min_lr: ArrayLike | None = None,
    max_lr: ArrayLike | None = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Adam-HD: `hypergradient` around Adam's direction in the ε̂ form of the reference
    ``AdamHD``, ``u = m sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + eps)`` (see
    `scale_by_adam` with ``eps_hat=True``); coupled weight decay."""
    return optax.chain(
        decay_weights(weight_decay),
        hypergradient(
            scale_by_adam(b1, b2, eps, eps_hat=True, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
            learning_rate,
            hypergrad_lr,
            multiplicative=multiplicative,
            min_lr=min_lr,
            max_lr=max_lr,
        ),
    )
