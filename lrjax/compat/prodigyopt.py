"""``prodigyopt.Prodigy`` (konstmish/prodigy 1.1.2) as an optax transformation, with its
arguments and defaults. See `lrjax.adaptive.prodigy`."""

from __future__ import annotations

from collections.abc import Sequence

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.prodigy import prodigy
from lrjax.transforms.base import Hyper

__all__ = ["Prodigy"]


# prodigyopt's checks (lr, eps, d0 > 0) and the native ranges, under prodigyopt's names;
# betas, a pair, is checked in the body.
@_checks.arguments(
    lr=_checks.real(0, open_low=True, schedule=True),
    beta3=_checks.real(0, 1, open_high=True, optional=True),
    eps=_checks.POSITIVE,
    weight_decay=_checks.NONNEGATIVE,
    d0=_checks.POSITIVE,
    d_coef=_checks.POSITIVE,
    growth_rate=_checks.real(1, finite=False),
    slice_p=_checks.integer(1),
)
def Prodigy(
    lr: Hyper = 1.0,
    betas: Sequence[ArrayLike] = (0.9, 0.999),
    beta3: ArrayLike | None = None,
    eps: ArrayLike = 1e-8,
    weight_decay: ArrayLike = 0,
    decouple: bool = True,
    use_bias_correction: bool = False,
    safeguard_warmup: bool = False,
    d0: ArrayLike = 1e-6,
    d_coef: ArrayLike = 1.0,
    growth_rate: ArrayLike = float("inf"),
    fsdp_in_use: bool = False,
    slice_p: int = 1,
) -> optax.GradientTransformation:
    """``prodigyopt.Prodigy``. ``fsdp_in_use`` is ignored (sums are global under jit);
    ``slice_p`` other than 1 (statistics on every p-th entry) is not supported."""
    del fsdp_in_use
    if slice_p != 1:
        raise ValueError(f"slice_p must be 1 (lrjax keeps full statistics), got {slice_p!r}")
    b1, b2 = _checks.pair("betas", betas)
    _checks.numeric("betas[0]", b1)  # a bool is a TypeError naming the entry
    _checks.numeric("betas[1]", b2)
    names = {"learning_rate": "lr", "b1": "betas[0]", "b2": "betas[1]", "b3": "beta3"}
    with _checks.renamed(**names):
        return prodigy(
            lr,
            b1,
            b2,
            beta3,
            eps,
            weight_decay=weight_decay,
            decoupled=decouple,
            bias_correction=use_bias_correction,
            safeguard_warmup=safeguard_warmup,
            d0=d0,
            d_coef=d_coef,
            growth_rate=growth_rate,
        )
