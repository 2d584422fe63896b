"""The schedulefree package's optimizers (facebookresearch/schedule_free 1.4.1) as optax
transformations, with its arguments and defaults.

The model holds y (call ``update`` with the gradient at y, as in train mode); what
``optimizer.eval()`` would put in the model is ``lrjax.schedule_free_eval_params(state,
params)``. The memory-efficient classes and the ``*Reference`` classes compute the same
iterates (they differ by rounding, 2e-13 relative on the reference problem); both names
are provided. ``foreach`` picks torch kernels and is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.schedule_free import schedule_free_adamw, schedule_free_sgd
from lrjax.transforms.base import Hyper

__all__ = [
    "AdamWScheduleFree",
    "AdamWScheduleFreeReference",
    "SGDScheduleFree",
    "SGDScheduleFreeReference",
]

_NAMES = {"learning_rate": "lr", "b1": "momentum"}

# schedulefree's checks (lr >= 0, weight_decay >= 0, momentum in (0, 1)) and the native
# ranges, under the package's names; betas, a pair, is checked in the body.
_COMMON = dict(
    lr=_checks.RATE,
    weight_decay=_checks.NONNEGATIVE,
    warmup_steps=_checks.START,
    r=_checks.FINITE,
    weight_lr_power=_checks.FINITE,
)


@_checks.arguments(**_COMMON, momentum=_checks.real(0, 1, open_low=True, open_high=True))
def SGDScheduleFree(
    lr: Hyper = 1.0,
    momentum: ArrayLike = 0.9,
    weight_decay: ArrayLike = 0,
    warmup_steps: ArrayLike = 0,
    r: ArrayLike = 0.0,
    weight_lr_power: ArrayLike = 2.0,
    foreach: bool | None = None,
) -> optax.GradientTransformation:
    """``schedulefree.SGDScheduleFree``: see `lrjax.adaptive.schedule_free_sgd`."""
    del foreach
    with _checks.renamed(**_NAMES):
        return schedule_free_sgd(
            lr,
            momentum,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
        )


SGDScheduleFreeReference = SGDScheduleFree


@_checks.arguments(**_COMMON, eps=_checks.NONNEGATIVE)
def AdamWScheduleFree(
    lr: Hyper = 0.0025,
    betas: Sequence[ArrayLike] = (0.9, 0.999),
    eps: ArrayLike = 1e-8,
    weight_decay: ArrayLike = 0,
    warmup_steps: ArrayLike = 0,
    r: ArrayLike = 0.0,
    weight_lr_power: ArrayLike = 2.0,
    foreach: bool | None = None,
    *,
    decay_at_z: bool = False,
) -> optax.GradientTransformation:
    """``schedulefree.AdamWScheduleFree`` (and the reference class, which adds
    ``decay_at_z``): see `lrjax.adaptive.schedule_free_adamw`."""
    del foreach
    b1, b2 = _checks.pair("betas", betas)
    _checks.numeric("betas[0]", b1)  # a bool is a TypeError naming the entry
    _checks.numeric("betas[1]", b2)
    with _checks.renamed(learning_rate="lr", b1="betas[0]", b2="betas[1]"):
        return schedule_free_adamw(
            lr,
            b1,
            b2,
            eps,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            weight_decay=weight_decay,
            decay_at_z=decay_at_z,
        )


AdamWScheduleFreeReference = AdamWScheduleFree
