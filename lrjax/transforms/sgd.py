"""Stochastic gradient descent with heavy-ball, dampened, EMA or Nesterov momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    at,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    descent,
    is_zero,
    leafwise,
    scalar,
    zeros_like,
)


class ScaleByMomentumState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    momentum: optax.Updates  # the buffer b, in mu_dtype


@copies_arrays
@_checks.arguments(momentum=_checks.UNIT, dampening=_checks.real(0.0, 1.0, schedule=True))
def scale_by_momentum(
    momentum: Hyper,
    dampening: Hyper = 0.0,
    *,
    nesterov: bool = False,
    ema: bool = False,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Momentum: accumulate the updates in a buffer and return the buffer.

    With μ = momentum(t) and d = dampening (d = μ when ``ema``), for update t = 1, 2, ...:

        b_t = μ b_{t-1} + c_t g_t,     c_t = 1 if t = 1 and not ema, else 1 - d
        out = (1 - d) g_t + μ b_t if nesterov, else b_t

    with b_0 = 0. ``d = 0`` is the heavy ball (Polyak 1964; Sutskever et al. 2013 for the
    Nesterov form), exactly ``torch.optim.SGD`` and ``optax.trace``. A nonzero d is torch's
    dampening, which torch skips on the first step (``b_1 = g_1``); ``ema=True`` is the
    exponential moving average ``b = μ b + (1 - μ) g`` from zero, with no such exception.

    `momentum` and `dampening` may be schedules of the update count, as torch's
    ``OneCycleLR`` and ``CyclicLR`` make them.
    """
    check_unit("momentum", momentum)
    if not ema and not callable(dampening):
        _checks.between("dampening", dampening, 0.0, 1.0)

    def init(params):
        return ScaleByMomentumState(jnp.zeros([], jnp.int32), zeros_like(params, mu_dtype))

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.momentum, "momentum buffer (built from the params)")
        mu = at(momentum, state.count)
        d = mu if ema else at(dampening, state.count)
        first = state.count == 0
        plain = not ema and is_zero(dampening)

        def leaf(g, b):
            dtype = compute_dtype(g)
            x = g.astype(dtype)
            m = scalar(mu, dtype)
            if plain:  # the common case: no scalar factor on g
                new = m * b.astype(dtype) + x
                out = x + m * new if nesterov else new
            else:
                keep = complement(d, dtype)
                c = keep if ema else jnp.where(first, jnp.ones([], dtype), keep)
                new = m * b.astype(dtype) + c * x
                out = keep * x + m * new if nesterov else new
            return out.astype(g.dtype), new.astype(b.dtype)

        out, buffer = leafwise(leaf, updates, state.momentum)
        return out, ScaleByMomentumState(optax.safe_increment(state.count), buffer)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    **_checks.OPTIMIZER,
    momentum=_checks.real(0, 1, open_high=True, schedule=True, optional=True),
    dampening=_checks.real(0.0, 1.0, schedule=True),
)
def sgd(
    learning_rate: Hyper,
    momentum: Hyper | None = None,
    *,
    dampening: Hyper = 0.0,
    nesterov: bool = False,
    ema: bool = False,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Stochastic gradient descent, optionally with momentum and coupled weight decay.

        g ← g + λ θ                      (λ = weight_decay, L2 regularisation)
        u = momentum(g) (see `scale_by_momentum`), or g when momentum is None
        θ ← θ - η_t u                    (η_t = learning_rate(t - 1))

    This is ``torch.optim.SGD`` update for update (dampening included) and equals
    ``optax.sgd`` when dampening and weight decay are zero. The learning rate is applied
    after the momentum buffer, so a schedule gives torch's result.

    Args:
      learning_rate: a number or a schedule of the update count.
      momentum: μ, a number or schedule in [0, 1); None keeps no buffer.
      dampening: d in [0, 1]; ignored with ``ema``.
      nesterov: return ``(1 - d) g + μ b`` instead of b.
      ema: the moving-average form ``b = μ b + (1 - μ) g``.
      weight_decay: λ >= 0, added to the gradient before the momentum (coupled); None,
        the default, is no decay.
      mask: a pytree of bools or a callable on the params selecting the decayed leaves.
      mu_dtype: dtype of the momentum buffer (default: the params').

    References: Polyak, "Some methods of speeding up the convergence of iteration methods",
    1964; Sutskever et al., "On the importance of initialization and momentum in deep
    learning", ICML 2013; PyTorch ``torch.optim.SGD``.
    """
    scalings = []
    if momentum is not None:
        scalings.append(
            scale_by_momentum(momentum, dampening, nesterov=nesterov, ema=ema, mu_dtype=mu_dtype)
        )
    return descent(*scalings, learning_rate=learning_rate, weight_decay=weight_decay, mask=mask)
