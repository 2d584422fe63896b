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
from lrjax.transforms.base import decay_weights, zeros_like
from lrjax.transforms.sgd import scale_by_momentum


class HypergradientState(NamedTuple):
    learning_rate: jax.Array  # α used by the last update (the initial α before any)
    previous: optax.Updates  # u_{t-1}, the last direction (zeros before any update)
    inner: optax.OptState  # state of the direction transformation

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
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
            norms = optax.tree.norm(updates) * optax.tree.norm(state.previous)
            cosine = jnp.where(norms > 0, dot / jnp.where(norms > 0, norms, 1), 0)
            rate = state.learning_rate * (1 + hypergrad_lr * cosine)
        else:
            rate = state.learning_rate + hypergrad_lr * dot
        if min_lr is not None or max_lr is not None:
            rate = jnp.clip(rate, min_lr, max_lr)
        rate = rate.astype(state.learning_rate.dtype)
        u, inner = direction.update(updates, state.inner, params, **extra_args)
        out = jax.tree.map(lambda x: (-rate * x).astype(x.dtype), u)
        return out, HypergradientState(rate, u, inner)

    return optax.GradientTransformationExtraArgs(init, update)


@copies_arrays
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
