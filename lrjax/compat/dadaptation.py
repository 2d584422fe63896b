"""The dadaptation package's optimizers (facebookresearch/dadaptation 3.2) as optax
transformations, with its arguments and defaults. ``log_every`` and ``fsdp_in_use`` are
accepted and ignored (sums are global under jit); ``layer_scale`` (per param group) has no
counterpart: one d is shared by the whole tree."""

from __future__ import annotations

from collections.abc import Sequence

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.dadapt import dadapt_adagrad, dadapt_adam, dadapt_sgd
from lrjax.transforms.base import Hyper

__all__ = ["DAdaptAdaGrad", "DAdaptAdam", "DAdaptSGD"]

_INF = float("inf")

# The ranges of the native optimizers (dadaptation itself checks only lr, eps and the
# betas, >= 0), under the package's names; betas, a pair, is checked in the body.
_COMMON = dict(
    lr=_checks.real(0, open_low=True, schedule=True),
    weight_decay=_checks.NONNEGATIVE,
    log_every=_checks.START,
    d0=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
)
_MOMENTUM = _checks.real(0, 1, open_high=True)


def _betas(betas) -> tuple:
    """The two betas; an entry that is not a number (a bool) is a `TypeError`."""
    b1, b2 = _checks.pair("betas", betas)
    _checks.numeric("betas[0]", b1)
    _checks.numeric("betas[1]", b2)
    return b1, b2


@_checks.arguments(**_COMMON, eps=_checks.NONNEGATIVE)
def DAdaptAdam(
    lr: Hyper = 1.0,
    betas: Sequence[ArrayLike] = (0.9, 0.999),
    eps: ArrayLike = 1e-8,
    weight_decay: ArrayLike = 0,
    log_every: int = 0,
    decouple: bool = False,
    use_bias_correction: bool = False,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = _INF,
    fsdp_in_use: bool = False,
) -> optax.GradientTransformation:
    """``dadaptation.DAdaptAdam``: see `lrjax.adaptive.dadapt_adam`."""
    del log_every, fsdp_in_use
    b1, b2 = _betas(betas)
    with _checks.renamed(learning_rate="lr", b1="betas[0]", b2="betas[1]"):
        return dadapt_adam(
            lr,
            b1,
            b2,
            eps,
            weight_decay=weight_decay,
            decoupled=decouple,
            bias_correction=use_bias_correction,
            d0=d0,
            growth_rate=growth_rate,
        )


@_checks.arguments(**_COMMON, momentum=_MOMENTUM)
def DAdaptSGD(
    lr: Hyper = 1.0,
    momentum: ArrayLike = 0.0,
    weight_decay: ArrayLike = 0,
    log_every: int = 0,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = _INF,
    fsdp_in_use: bool = False,
) -> optax.GradientTransformation:
    """``dadaptation.DAdaptSGD``: see `lrjax.adaptive.dadapt_sgd`."""
    del log_every, fsdp_in_use
    with _checks.renamed(learning_rate="lr"):
        return dadapt_sgd(lr, momentum, weight_decay=weight_decay, d0=d0, growth_rate=growth_rate)


@_checks.arguments(**_COMMON, momentum=_MOMENTUM, eps=_checks.POSITIVE)
def DAdaptAdaGrad(
    lr: Hyper = 1.0,
    momentum: ArrayLike = 0,
    log_every: int = 0,
    weight_decay: ArrayLike = 0.0,
    eps: ArrayLike = 1e-6,
    d0: ArrayLike = 1e-6,
    growth_rate: ArrayLike = _INF,
) -> optax.GradientTransformation:
    """``dadaptation.DAdaptAdaGrad``: see `lrjax.adaptive.dadapt_adagrad`."""
    del log_every
    with _checks.renamed(learning_rate="lr"):
        return dadapt_adagrad(
            lr, momentum, eps, weight_decay=weight_decay, d0=d0, growth_rate=growth_rate
        )
