"""Keras-exact schedules: ``keras.optimizers.schedules`` as lrjax schedules.

``Name(**kwargs)`` takes the Keras constructor's keyword arguments (``name`` is accepted
and ignored) and returns an lrjax schedule ``s`` with ``s(k) == float(keras_schedule(k))``;
a Keras optimizer evaluates its schedule at ``iterations``, which is 0 during the first
update, the same convention as lrjax. Keras' quirks are kept: ``PiecewiseConstantDecay``
switches one step after the boundary; ``PolynomialDecay`` defaults to an end rate of 1e-4
and with ``cycle=True`` stretches its horizon rather than restarting; ``CosineDecay``
ignores ``warmup_steps`` unless ``warmup_target`` is set; ``CosineDecayRestarts`` scales
only the height above its floor by ``m_mul``. Cycle indices use exact arithmetic, where
Keras' float ``log`` can land on the wrong side of a restart step.
"""

from __future__ import annotations

from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules import (
    Schedule,
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    piecewise_constant,
    polynomial_decay,
    warm_restarts,
    warmup,
)

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]

# Keras checks almost nothing; the declarations are the ranges its formulas need (those of
# the native schedules), under Keras' names: rates >= 0, numbers of steps > 0.
_RATE = _checks.NONNEGATIVE


@_checks.arguments(
    initial_learning_rate=_RATE, decay_steps=_checks.POSITIVE, decay_rate=_checks.NONNEGATIVE
)
def ExponentialDecay(
    initial_learning_rate: ArrayLike,
    decay_steps: ArrayLike,
    decay_rate: ArrayLike,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    """init * decay_rate ** (k / decay_steps), floored exponent with ``staircase``."""
    with _checks.renamed(init="initial_learning_rate", rate="decay_rate", steps="decay_steps"):
        return exponential_decay(
            initial_learning_rate, decay_rate, decay_steps, staircase=staircase
        )


@_checks.arguments(boundaries=_checks.real(shape="vector"), values=_checks.real(0, shape="vector"))
def PiecewiseConstantDecay(
    boundaries: ArrayLike, values: ArrayLike, name: str | None = None
) -> Schedule:
    """values[0] for k <= boundaries[0], values[i] for boundaries[i-1] < k <= boundaries[i]."""
    return piecewise_constant(boundaries, values, side="left")


@_checks.arguments(
    initial_learning_rate=_RATE,
    decay_steps=_checks.STEPS,
    end_learning_rate=_RATE,
    power=_checks.POSITIVE,
)
def PolynomialDecay(
    initial_learning_rate: ArrayLike,
    decay_steps: ArrayLike,
    end_learning_rate: ArrayLike = 0.0001,
    power: ArrayLike = 1.0,
    cycle: bool = False,
    name: str | None = None,
) -> Schedule:
    """(init - end) * (1 - min(k, D) / D) ** power + end; see `polynomial_decay` for ``cycle``."""
    names = dict(init="initial_learning_rate", end="end_learning_rate", steps="decay_steps")
    with _checks.renamed(**names):
        return polynomial_decay(
            initial_learning_rate, end_learning_rate, decay_steps, power, cycle=cycle
        )


@_checks.arguments(
    initial_learning_rate=_RATE, decay_steps=_checks.POSITIVE, decay_rate=_checks.NONNEGATIVE
)
def InverseTimeDecay(
    initial_learning_rate: ArrayLike,
    decay_steps: ArrayLike,
    decay_rate: ArrayLike,
    staircase: bool = False,
    name: str | None = None,
) -> Schedule:
    """init / (1 + decay_rate * k / decay_steps), floored ratio with ``staircase``."""
    with _checks.renamed(init="initial_learning_rate", rate="decay_rate", steps="decay_steps"):
        return inverse_time_decay(
            initial_learning_rate, decay_rate, decay_steps, staircase=staircase
        )


@_checks.arguments(
    initial_learning_rate=_RATE,
    decay_steps=_checks.STEPS,
    alpha=_checks.real(0.0, 1.0),
    warmup_target=_checks.real(0, optional=True),
    warmup_steps=_checks.START,
)
def CosineDecay(
    initial_learning_rate: ArrayLike,
    decay_steps: ArrayLike,
    alpha: ArrayLike = 0.0,
    name: str | None = None,
    warmup_target: ArrayLike | None = None,
    warmup_steps: ArrayLike = 0,
) -> Schedule:
    """Cosine from the peak to ``alpha * peak`` over ``decay_steps``, held after.

    Without ``warmup_target`` the peak is ``initial_learning_rate`` and ``warmup_steps`` is
    ignored (as in Keras). With it, the rate rises linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps``, then the cosine starts from ``warmup_target``.
    """
    if warmup_target is None:
        with _checks.renamed(peak="initial_learning_rate"):
            return cosine_decay(initial_learning_rate, decay_steps, alpha=alpha)
    # the cosine's peak and the warmup's target are warmup_target, its start the initial rate
    names = dict(peak="warmup_target", target="warmup_target", init="initial_learning_rate")
    with _checks.renamed(steps="warmup_steps", **names):
        decay = cosine_decay(warmup_target, decay_steps, alpha=alpha)
        return warmup(decay, warmup_steps, init=initial_learning_rate, target=warmup_target)


@_checks.arguments(
    initial_learning_rate=_RATE,
    first_decay_steps=_checks.POSITIVE,
    t_mul=_checks.real(1),
    m_mul=_checks.NONNEGATIVE,
    alpha=_checks.NONNEGATIVE,
)
def CosineDecayRestarts(
    initial_learning_rate: ArrayLike,
    first_decay_steps: ArrayLike,
    t_mul: ArrayLike = 2.0,
    m_mul: ArrayLike = 1.0,
    alpha: ArrayLike = 0.0,
    name: str | None = None,
) -> Schedule:
    """init * ((1 - alpha) * m_mul**i * (1 + cos(pi * f)) / 2 + alpha) in restart cycle i.

    Cycle i lasts ``first_decay_steps * t_mul**i`` steps and f is the fraction of it done.
    """
    names = dict(peak="initial_learning_rate", period="first_decay_steps", mult="t_mul")
    with _checks.renamed(decay="m_mul", final="alpha", **names):
        return warm_restarts(
            initial_learning_rate,
            first_decay_steps,
            t_mul,
            final=alpha * initial_learning_rate,
            decay=m_mul,
            decay_mode="amplitude",
        )
