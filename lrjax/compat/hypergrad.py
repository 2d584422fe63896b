"""The hypergradient reference optimizers (gbaydin/hypergradient-descent) as optax
transformations: ``SGDHD`` and ``AdamHD`` with the reference's arguments and defaults.

The reference ``AdamHD`` updates the rate inside its per-tensor loop, so with several
tensors later ones see a rate already changed by earlier ones; lrjax uses the paper's
global inner product, which equals the reference for a single tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.hypergradient import adam_hd, sgd_hd

__all__ = ["SGDHD", "AdamHD"]

# The reference's checks (torch's SGD and Adam: lr, weight_decay >= 0) and the native
# ranges, under the reference's names; betas, a pair, is checked in the body.
_COMMON = dict(
    lr=_checks.NONNEGATIVE, weight_decay=_checks.NONNEGATIVE, hypergrad_lr=_checks.NONNEGATIVE
)


@_checks.arguments(
    **_COMMON, momentum=_checks.real(0, 1, open_high=True), dampening=_checks.real(0.0, 1.0)
)
def SGDHD(
    lr: ArrayLike,
    momentum: ArrayLike = 0,
    dampening: ArrayLike = 0,
    weight_decay: ArrayLike = 0,
    nesterov: bool = False,
    hypergrad_lr: ArrayLike = 1e-6,
) -> optax.GradientTransformation:
    """``hypergrad.SGDHD``: α_t = α_{t-1} + hypergrad_lr <g_t, u_{t-1}>, then SGD(α_t)."""
    mu, d = _checks.concrete(momentum), _checks.concrete(dampening)
    if nesterov and ((mu is not None and mu <= 0) or (d is not None and d != 0)):
        raise ValueError("nesterov requires momentum > 0 and dampening == 0")
    no_momentum = isinstance(momentum, (int, float)) and momentum == 0
    with _checks.renamed(learning_rate="lr"):
        return sgd_hd(
            lr,
            hypergrad_lr,
            None if no_momentum else momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )


@_checks.arguments(**_COMMON, eps=_checks.NONNEGATIVE)
def AdamHD(
    lr: ArrayLike = 1e-3,
    betas: Sequence[ArrayLike] = (0.9, 0.999),
    eps: ArrayLike = 1e-8,
    weight_decay: ArrayLike = 0,
    hypergrad_lr: ArrayLike = 1e-8,
) -> optax.GradientTransformation:
    """``hypergrad.AdamHD``: Adam (ε on the uncorrected root) with a hypergradient rate."""
    b1, b2 = _checks.pair("betas", betas)
    _checks.numeric("betas[0]", b1)  # a bool is a TypeError naming the entry
    _checks.numeric("betas[1]", b2)
    with _checks.renamed(learning_rate="lr", b1="betas[0]", b2="betas[1]"):
        return adam_hd(lr, hypergrad_lr, b1, b2, eps, weight_decay=weight_decay)
