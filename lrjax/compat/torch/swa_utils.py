"""PyTorch-exact stochastic weight averaging: ``torch.optim.swa_utils`` as lrjax pieces.

``SWALR`` is an lrjax schedule (`lrjax.schedules.anneal_to`) and ``AveragedModel`` an
optimizer wrapper (`lrjax.transforms.average_iterates`) whose state holds the average;
`lrjax.transforms.iterate_average` reads it. A torch SWA loop

    swa_model = AveragedModel(model)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05)
    for epoch in range(epochs):
        for batch in loader: ...; optimizer.step()
        if epoch > swa_start:
            swa_model.update_parameters(model); swa_scheduler.step()
        else:
            scheduler.step()

is, with m updates per epoch (the schedules stepped per epoch, so held for m updates)::

    rate = SWALR(CosineAnnealingLR(lr, T_max=epochs), swa_lr=0.05, start=swa_start + 1)
    opt = AveragedModel(SGD(lr=staircase(rate, m)), start=m * (swa_start + 1), every=m)

Out of scope: ``use_buffers`` (a params tree has no buffers) and ``update_bn`` (a pass
over the data with the averaged params, which is the user's model code).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules import Schedule, anneal_to
from lrjax.transforms.swa import average_iterates

__all__ = ["SWALR", "AveragedModel", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn"]


def _torch_message(name: str, value: Any, error: Exception) -> str | None:
    """torch's phrases first, where it checks the argument."""
    if name == "anneal_epochs" and isinstance(error, ValueError):
        return f"anneal_epochs must be equal or greater than 0, got {value} ({error})"
    if name == "decay" and isinstance(error, ValueError):
        return (
            f"Invalid decay value {value} provided. Please provide a value in [0,1] range. "
            f"({error})"
        )
    return None


@_checks.arguments(
    _torch_message,
    base_lr=_checks.real(0, schedule=True),
    swa_lr=_checks.NONNEGATIVE,
    anneal_epochs=_checks.START,
    start=_checks.START,
)
def SWALR(
    base_lr: ArrayLike | Schedule,
    swa_lr: ArrayLike,
    anneal_epochs: ArrayLike = 10,
    anneal_strategy: str = "cos",
    *,
    start: ArrayLike = 0,
) -> Schedule:
    """``torch.optim.swa_utils.SWALR``: from the rate in effect when it takes over, anneal
    to ``swa_lr`` over ``anneal_epochs`` steps (``"cos"`` or ``"linear"``), then hold it.

    torch's SWALR reads the optimizer's current rate when it is first stepped, so the
    rate it starts from is an argument here: ``base_lr`` is the rate before SWA, a number
    (the optimizer's ``lr``) or the schedule that ran before (a compat scheduler such as
    ``CosineAnnealingLR``), and ``start`` the step at which SWALR takes over. The value at
    step k is then ``base_lr(k)`` for k < start and, for k >= start,
    ``swa_lr α + base_lr(start) (1 - α)`` with α = anneal((k - start) / anneal_epochs)
    (clipped to 1). In torch's loop (``if epoch > swa_start: swa_scheduler.step()``),
    ``start = swa_start + 1``. ``anneal_epochs = 0`` is ``swa_lr`` from ``start`` on.
    torch's ``last_epoch`` is left out, as for the other schedulers. Torch's SWALR
    recovers the starting rate from the current one at every step; the closed form here
    agrees to the rounding (1e-15 relative, 1e-13 where α is within 1e-3 of 1).
    """
    _checks.one_of("anneal_strategy", anneal_strategy, ("cos", "linear"))
    shape = "cosine" if anneal_strategy == "cos" else "linear"
    with _checks.renamed(schedule="base_lr", value="swa_lr", steps="anneal_epochs"):
        return anneal_to(base_lr, swa_lr, start, anneal_epochs, shape)


class AveragingFunction(NamedTuple):
    """What torch's ``get_swa_multi_avg_fn()`` / ``get_ema_multi_avg_fn(decay)`` name: an
    averaging rule for `AveragedModel` (a value, not a callable: the rule runs in lrjax)."""

    mode: str
    decay: ArrayLike = 0.999


def get_swa_multi_avg_fn() -> AveragingFunction:
    """torch's equal average, ``x̄ + (x - x̄) / (n + 1)`` (also AveragedModel's default)."""
    return AveragingFunction("swa")


@_checks.arguments(_torch_message, decay=_checks.real(0, 1))
def get_ema_multi_avg_fn(decay: ArrayLike = 0.999) -> AveragingFunction:
    """torch's exponential average, ``lerp(x̄, x, 1 - decay)``; decay in [0, 1]."""
    return AveragingFunction("ema", decay)


@_checks.arguments(start=_checks.START, every=_checks.STEPS)
def AveragedModel(
    optimizer: optax.GradientTransformation,
    avg_fn: AveragingFunction | None = None,
    multi_avg_fn: AveragingFunction | None = None,
    use_buffers: bool = False,
    *,
    start: ArrayLike = 0,
    every: ArrayLike = 1,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.swa_utils.AveragedModel`` around the optimizer whose iterates it
    averages: `lrjax.transforms.average_iterates`, averaging the iterate after update t
    when t > ``start`` and (t - start) is a multiple of ``every`` (where torch's loop
    calls ``update_parameters``). The averaging rule is torch's default equal average,
    or ``multi_avg_fn=get_ema_multi_avg_fn(decay)`` (also accepted as ``avg_fn``); a
    custom averaging callable is not supported (TypeError),
    nor ``use_buffers=True`` (ValueError: a params tree holds no buffers). Read the
    average with `lrjax.transforms.iterate_average`.
    """
    if avg_fn is not None and multi_avg_fn is not None:
        raise ValueError("Only one of avg_fn and multi_avg_fn should be provided")
    rule = multi_avg_fn if multi_avg_fn is not None else avg_fn
    if rule is None:
        rule = get_swa_multi_avg_fn()
    if not isinstance(rule, AveragingFunction):
        raise TypeError(
            "avg_fn and multi_avg_fn must come from get_swa_multi_avg_fn() or "
            f"get_ema_multi_avg_fn(decay) (a custom averaging callable is not supported), "
            f"got {rule!r}"
        )
    if use_buffers:
        raise ValueError(
            "use_buffers=True is out of scope: a params tree holds no buffers (put a "
            "statistic you want averaged into the params)"
        )
    return average_iterates(optimizer, rule.mode, decay=rule.decay, start=start, every=every)
