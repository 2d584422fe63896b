"""The mechanic-pytorch package (optimizedlearning/mechanic 0.0.1) as an optax
transformation: ``mechanize`` with its arguments, defaults and update rule.

The package wraps an optimizer class (``mechanize(torch.optim.SGD)(params, lr=0.1)``);
here it wraps the base transformation, for example ``lrjax.compat.torch.SGD(lr=0.1)``.
Its ``log_func`` and ``log_every`` (host-side logging: read ``lrjax.applied_lr(state)``
instead) have no counterpart.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.adaptive.mechanic import _mechanic

__all__ = ["mechanize"]

BETAS = (0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999)


@copies_arrays
@_checks.arguments(
    s_decay=_checks.NONNEGATIVE,
    betas=_checks.real(0, 1, shape="vector"),
    s_init=_checks.POSITIVE,
    eps=_checks.POSITIVE,
)
def mechanize(
    base_optimizer: optax.GradientTransformation,
    s_decay: ArrayLike = 0.01,
    betas: Sequence[float] | ArrayLike = BETAS,
    s_init: ArrayLike = 1e-8,
    eps: ArrayLike = 1e-8,
    store_delta: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``mechanic_pytorch.mechanize``: Mechanic as the package computes it, for update t
    with gradient g, base update u and n = len(betas):

        x0 = the params at the first update;  Δ = (x - x0) / (Σs + ε);  x⁺ = x + u
        h = <g + λ Σs |g| / (|x⁺| + ε) x⁺, Δ>          (λ = s_decay)
        m ← max(β m, |h|)  (m = 1e-6 at first),   v ← β² v + h²
        r ← max(β r - s h, 0),   s = (s_init / n · m + r) / (sqrt(v) + ε)  (s = 0 at first)
        x_{t+1} = x0 + Σs (Δ + u)

    With ``store_delta`` Δ is kept in the state and moved by u (Δ ← Δ + u) rather than
    recomputed from x, as the package's option. How it differs from optax's form
    (`lrjax.adaptive.mechanize`): see there. ``betas`` (any length, each in [0, 1]) and
    the other numbers may be traced arrays.
    """
    return _mechanic(
        base_optimizer, s_decay, eps, s_init, betas, package=True, store_delta=store_delta
    )
