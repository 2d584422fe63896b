"""PyTorch-exact optimizers: ``torch.optim`` constructors that return Optax transformations.

``Name(**kwargs)`` takes the torch optimizer's keyword arguments and defaults (without
``params``) and returns an `optax.GradientTransformation` whose parameter trajectory is
torch's: ``p ← optax.apply_updates(p, opt.update(g, state, p)[0])`` repeats
``p.grad = g; opt.step()``. ``lr`` may be a number or any schedule, the
``lrjax.compat.torch`` schedulers included, with update k using ``lr(k)`` as torch does
with ``scheduler.step()`` after each ``opt.step()``. ``momentum`` (SGD, RMSprop) and
``betas[0]`` (the Adam family) may be schedules too, such as ``OneCycleLR(...).momentum``.

``foreach``, ``fused``, ``capturable`` and ``differentiable`` pick torch's kernels, not its
arithmetic; they are accepted and ignored. Errors name torch's arguments.

Where torch's defaults differ from lrjax's native ones, the native constructors document
it; these constructors always use torch's.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax

from lrjax import _checks, transforms
from lrjax.transforms.base import Hyper, is_zero

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
]

_KERNEL_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})
_BETAS = {"learning_rate": "lr", "b1": "betas[0]", "b2": "betas[1]"}


def _finish(opt: optax.GradientTransformation, maximize: bool, flags: dict):
    unknown = set(flags) - _KERNEL_FLAGS
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    return optax.chain(optax.scale(-1.0), opt) if maximize else opt


def SGD(
    lr: Hyper = 1e-3,
    momentum: Hyper = 0,
    dampening: Hyper = 0,
    weight_decay: Hyper = 0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.SGD``: momentum buffer b_1 = g (dampening skipped on the first step),
    then b ← μ b + (1 - dampening) g; coupled weight decay. See `lrjax.sgd`."""
    if nesterov:
        mu, d = _checks.concrete(momentum), _checks.concrete(dampening)
        if (mu is not None and mu <= 0) or (d is not None and d != 0):
            raise ValueError(
                f"nesterov requires momentum > 0 and dampening == 0, got momentum={momentum!r} "
                f"and dampening={dampening!r}"
            )
    with _checks.renamed(learning_rate="lr"):
        opt = transforms.sgd(
            lr,
            None if is_zero(momentum) else momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adagrad(
    lr: Hyper = 1e-2,
    lr_decay: Hyper = 0,
    weight_decay: Hyper = 0,
    initial_accumulator_value: Hyper = 0,
    eps: Hyper = 1e-10,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adagrad``: rate lr / (1 + (t - 1) lr_decay), eps outside the root."""
    with _checks.renamed(learning_rate="lr"):
        opt = transforms.adagrad(
            lr,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adadelta(
    lr: Hyper = 1.0,
    rho: Hyper = 0.9,
    eps: Hyper = 1e-6,
    weight_decay: Hyper = 0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adadelta``: eps inside both square roots, coupled weight decay."""
    with _checks.renamed(learning_rate="lr"):
        opt = transforms.adadelta(lr, rho=rho, eps=eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)


def RMSprop(
    lr: Hyper = 1e-2,
    alpha: Hyper = 0.99,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    momentum: Hyper = 0,
    centered: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.RMSprop``: eps outside the root, momentum buffer of unscaled steps."""
    with _checks.renamed(learning_rate="lr", decay="alpha"):
        opt = transforms.rmsprop(
            lr,
            decay=alpha,
            eps=eps,
            centered=centered,
            momentum=None if is_zero(momentum) else momentum,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adam(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adam``: L2 weight decay unless decoupled; AMSGrad on the raw v."""
    with _checks.renamed(**_BETAS):
        opt = transforms.adam(
            lr,
            *_checks.pair("betas", betas),
            eps,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def AdamW(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""
    return Adam(
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
        **flags,
    )


def NAdam(
    lr: Hyper = 2e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    momentum_decay: Hyper = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.NAdam``: Dozat's momentum schedule μ_t = β1 (1 - 0.96^(t ψ) / 2)."""
    with _checks.renamed(**_BETAS):
        opt = transforms.nadam(
            lr,
            *_checks.pair("betas", betas),
            eps,
            momentum_decay=momentum_decay,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def RAdam(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.RAdam``: rectified when ρ_t > 5, eps on the uncorrected sqrt(v)."""
    with _checks.renamed(**_BETAS):
        opt = transforms.radam(
            lr,
            *_checks.pair("betas", betas),
            eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adamax(
    lr: Hyper = 2e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adamax``: u ← max(β2 u, |g| + eps); only m is bias-corrected."""
    with _checks.renamed(**_BETAS):
        opt = transforms.adamax(lr, *_checks.pair("betas", betas), eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)
