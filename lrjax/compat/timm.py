"""timm-exact schedules: ``timm.scheduler`` as lrjax schedules.

``Name(base_lr, **kwargs)`` takes the timm scheduler's keyword arguments (without
``optimizer``, ``t_in_epochs`` and ``initialize``; ``k_decay=None`` is timm's 1.0) and
returns an lrjax schedule ``s`` with ``s(t)`` equal to timm's ``_get_lr(t)``: the rate for
update (or epoch) t. timm's conventions are kept: without ``warmup_prefix`` the warmup
overlaps the first cycle and ramps to ``base_lr`` (so cosine jumps at ``warmup_t``), while
``TanhLRScheduler`` ramps to its own value at ``warmup_t``; ``cycle_limit`` cycles are
run, then the rate is ``lr_min``; ``MultiStepLRScheduler`` applies milestone m at
t = m - 1; ``StepLRScheduler`` and ``MultiStepLRScheduler`` default to ``decay_rate=1``
(no decay) and ``warmup_prefix=True``.

Noise (``noise_range_t``, ``noise_pct``, ``noise_std``) follows timm's law, a normal
truncated to (-noise_pct, noise_pct) applied as ``lr * (1 + n)``, but is drawn from
``jax.random.key(noise_seed)`` (or ``key``), not torch's generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import Pytree
from lrjax.adaptive.plateau import ReduceOnPlateau
from lrjax.schedules import (
    Schedule,
    multi_step,
    noise,
    polynomial_decay,
    step_decay,
    tanh_decay,
    warm_restarts,
    warmup,
)

__all__ = [
    "PlateauLRScheduler",
    "TimmPlateau",
    "CosineLRScheduler",
    "MultiStepLRScheduler",
    "PolyLRScheduler",
    "StepLRScheduler",
    "TanhLRScheduler",
]

NoiseRange = int | Sequence[int] | None

# What every timm scheduler declares: its own asserts (t_initial > 0, lr_min >= 0,
# warmup_t >= 0, warmup_lr_init >= 0) and the ranges its formulas need, under timm's names.
_RATE = _checks.NONNEGATIVE
_WARMUP_AND_NOISE = dict(
    warmup_t=_checks.START,
    warmup_lr_init=_RATE,
    noise_pct=_checks.real(0.0, 1.0, open_low=True),
    noise_std=_checks.POSITIVE,
    noise_seed=_checks.integer(0),
)
_CYCLES = dict(
    base_lr=_RATE,
    t_initial=_checks.POSITIVE,
    lr_min=_RATE,
    cycle_mul=_checks.real(1),
    cycle_decay=_checks.NONNEGATIVE,
    cycle_limit=_checks.integer(0),
    **_WARMUP_AND_NOISE,
)
_K_DECAY = _checks.real(0, open_low=True, optional=True)


def _finish(
    main: Schedule,
    base_lr: ArrayLike,
    warmup_t: ArrayLike,
    warmup_lr_init: ArrayLike,
    warmup_prefix: bool,
    target: ArrayLike | None,
    noise_range_t: NoiseRange,
    noise_pct: ArrayLike,
    noise_std: ArrayLike,
    noise_seed: int,
    key: jax.Array | None,
) -> Schedule:
    """timm's shared machinery: the linear warmup, then the noise."""
    with _checks.renamed(steps="warmup_t", init="warmup_lr_init"):
        s = warmup(main, warmup_t, init=warmup_lr_init, target=target, shift=warmup_prefix)
    if noise_range_t is None:
        return s
    if isinstance(noise_range_t, (list, tuple)):
        start, stop = noise_range_t
    else:
        start, stop = noise_range_t, None
    key = jax.random.key(noise_seed) if key is None else key
    names = dict(pct="noise_pct", std="noise_std", start="noise_range_t", stop="noise_range_t")
    with _checks.renamed(**names):
        return noise(s, key, noise_pct, noise_std, start, stop, kind="normal")


def _cycles(
    base_lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay=None, shape=None
):
    names = dict(peak="base_lr", period="t_initial", mult="cycle_mul", final="lr_min")
    with _checks.renamed(decay="cycle_decay", cycles="cycle_limit", **names):
        return warm_restarts(
            base_lr,
            t_initial,
            cycle_mul,
            final=lr_min,
            decay=cycle_decay,
            cycles=cycle_limit,
            k_decay=k_decay,
            shape=shape,
        )


@_checks.arguments(**_CYCLES, k_decay=_K_DECAY)
def CosineLRScheduler(
    base_lr: ArrayLike,
    t_initial: ArrayLike,
    lr_min: ArrayLike = 0.0,
    cycle_mul: ArrayLike = 1.0,
    cycle_decay: ArrayLike = 1.0,
    cycle_limit: ArrayLike = 1,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0.0,
    warmup_prefix: bool = False,
    noise_range_t: NoiseRange = None,
    noise_pct: ArrayLike = 0.67,
    noise_std: ArrayLike = 1.0,
    noise_seed: int = 42,
    k_decay: ArrayLike | None = None,
    key: jax.Array | None = None,
) -> Schedule:
    """lr_min + (base * cycle_decay**i - lr_min) * (1 + cos(pi * t_cur**k / t_i**k)) / 2."""
    main = _cycles(base_lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay)
    return _finish(
        main, base_lr, warmup_t, warmup_lr_init, warmup_prefix, base_lr,
        noise_range_t, noise_pct, noise_std, noise_seed, key,
    )  # fmt: skip


@_checks.arguments(**_CYCLES, lb=_checks.FINITE, ub=_checks.FINITE)
def TanhLRScheduler(
    base_lr: ArrayLike,
    t_initial: ArrayLike,
    lb: ArrayLike = -7.0,
    ub: ArrayLike = 3.0,
    lr_min: ArrayLike = 0.0,
    cycle_mul: ArrayLike = 1.0,
    cycle_decay: ArrayLike = 1.0,
    cycle_limit: ArrayLike = 1,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0.0,
    warmup_prefix: bool = False,
    noise_range_t: NoiseRange = None,
    noise_pct: ArrayLike = 0.67,
    noise_std: ArrayLike = 1.0,
    noise_seed: int = 42,
    key: jax.Array | None = None,
) -> Schedule:
    """lr_min + (base * cycle_decay**i - lr_min) * (1 - tanh(lb * (1 - x) + ub * x)) / 2,
    x = t_cur / t_i. Without ``warmup_prefix`` the warmup ramps to the value at ``warmup_t``."""
    shape = tanh_decay(1.0, 1, 0.0, lb, ub)
    main = _cycles(base_lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, shape=shape)
    return _finish(
        main, base_lr, warmup_t, warmup_lr_init, warmup_prefix,
        base_lr if warmup_prefix else None,
        noise_range_t, noise_pct, noise_std, noise_seed, key,
    )  # fmt: skip


@_checks.arguments(**_CYCLES, power=_checks.POSITIVE, k_decay=_K_DECAY)
def PolyLRScheduler(
    base_lr: ArrayLike,
    t_initial: ArrayLike,
    power: ArrayLike = 0.5,
    lr_min: ArrayLike = 0.0,
    cycle_mul: ArrayLike = 1.0,
    cycle_decay: ArrayLike = 1.0,
    cycle_limit: ArrayLike = 1,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0.0,
    warmup_prefix: bool = False,
    noise_range_t: NoiseRange = None,
    noise_pct: ArrayLike = 0.67,
    noise_std: ArrayLike = 1.0,
    noise_seed: int = 42,
    k_decay: ArrayLike | None = None,
    key: jax.Array | None = None,
) -> Schedule:
    """lr_min + (base * cycle_decay**i - lr_min) * (1 - t_cur**k / t_i**k) ** power."""
    shape = polynomial_decay(1.0, 0.0, 1, power)
    main = _cycles(base_lr, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay, shape)
    return _finish(
        main, base_lr, warmup_t, warmup_lr_init, warmup_prefix, base_lr,
        noise_range_t, noise_pct, noise_std, noise_seed, key,
    )  # fmt: skip


@_checks.arguments(
    base_lr=_RATE, decay_t=_checks.POSITIVE, decay_rate=_checks.NONNEGATIVE, **_WARMUP_AND_NOISE
)
def StepLRScheduler(
    base_lr: ArrayLike,
    decay_t: ArrayLike,
    decay_rate: ArrayLike = 1.0,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0.0,
    warmup_prefix: bool = True,
    noise_range_t: NoiseRange = None,
    noise_pct: ArrayLike = 0.67,
    noise_std: ArrayLike = 1.0,
    noise_seed: int = 42,
    key: jax.Array | None = None,
) -> Schedule:
    """base * decay_rate ** (t // decay_t) (after the warmup when ``warmup_prefix``)."""
    with _checks.renamed(init="base_lr", factor="decay_rate", every="decay_t"):
        main = step_decay(base_lr, decay_rate, decay_t)
    return _finish(
        main, base_lr, warmup_t, warmup_lr_init,
        warmup_prefix, base_lr, noise_range_t, noise_pct, noise_std, noise_seed, key,
    )  # fmt: skip


@_checks.arguments(
    base_lr=_RATE,
    decay_t=_checks.integer(0, shape="vector"),
    decay_rate=_checks.NONNEGATIVE,
    **_WARMUP_AND_NOISE,
)
def MultiStepLRScheduler(
    base_lr: ArrayLike,
    decay_t: ArrayLike,
    decay_rate: ArrayLike = 1.0,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0.0,
    warmup_prefix: bool = True,
    noise_range_t: NoiseRange = None,
    noise_pct: ArrayLike = 0.67,
    noise_std: ArrayLike = 1.0,
    noise_seed: int = 42,
    key: jax.Array | None = None,
) -> Schedule:
    """base * decay_rate ** #{m in decay_t : m <= t + 1}: milestone m applies at t = m - 1."""
    milestones = jnp.maximum(jnp.asarray(decay_t) - 1, 0)
    with _checks.renamed(init="base_lr", factor="decay_rate", milestones="decay_t"):
        main = multi_step(base_lr, milestones, decay_rate)
    return _finish(
        main, base_lr, warmup_t, warmup_lr_init,
        warmup_prefix, base_lr, noise_range_t, noise_pct, noise_std, noise_seed, key,
    )  # fmt: skip


class PlateauState(NamedTuple):
    plateau: Any  # lrjax.adaptive.PlateauState; its lr is the rate in effect
    epoch: jax.Array  # int32 epochs stepped


@_checks.arguments(warmup_t=_checks.START, warmup_lr_init=_RATE)
class TimmPlateau(Pytree):
    """``timm.scheduler.PlateauLRScheduler`` (noise aside) as a pure controller; build it
    with `PlateauLRScheduler`.

    ``state = c.step(state, metric)`` is timm's ``step(epoch, metric)`` for epoch = 1, 2,
    ...; ``c.lr(state)`` is the rate after it (``c.lr(c.init())`` the rate the constructor
    leaves). For epochs ``<= warmup_t`` the rate is the linear warmup
    ``warmup_lr_init + epoch (base_lr - warmup_lr_init) / warmup_t`` and the metric is
    ignored; afterwards torch's ``ReduceLROnPlateau(factor=decay_rate, patience=patience_t,
    cooldown=cooldown_t, min_lr=lr_min, threshold_mode='rel', eps=1e-8)`` acts on the
    current rate. timm's default mode is 'max'.
    """

    plateau: Any
    warmup_t: ArrayLike
    warmup_lr_init: ArrayLike

    def _warmup(self, epoch: jax.Array, dtype) -> jax.Array:
        base, init = self.plateau.base_lr, self.warmup_lr_init
        return jnp.asarray(init + epoch * (base - init) / jnp.maximum(self.warmup_t, 1), dtype)

    def init(self) -> PlateauState:
        state = self.plateau.init()
        lr = jnp.where(self.warmup_t > 0, self._warmup(0, state.lr.dtype), state.lr)
        return PlateauState(state._replace(lr=lr.astype(state.lr.dtype)), jnp.zeros([], jnp.int32))

    def step(self, state: PlateauState, metric: ArrayLike) -> PlateauState:
        epoch = state.epoch + 1
        warming = epoch <= self.warmup_t
        warm = state.plateau._replace(lr=self._warmup(epoch, state.plateau.lr.dtype))
        stepped = self.plateau.step(state.plateau, metric)
        plateau = jax.tree.map(lambda a, b: jnp.where(warming, a, b), warm, stepped)
        return PlateauState(plateau, epoch)

    def lr(self, state: PlateauState) -> jax.Array:
        return state.plateau.lr


@_checks.arguments(
    base_lr=_RATE,
    decay_rate=_checks.real(0, 1, open_high=True),
    patience_t=_checks.integer(0),
    threshold=_checks.NONNEGATIVE,
    cooldown_t=_checks.integer(0),
    warmup_t=_checks.START,
    warmup_lr_init=_RATE,
    lr_min=_RATE,
)
def PlateauLRScheduler(
    base_lr: ArrayLike,
    decay_rate: ArrayLike = 0.1,
    patience_t: ArrayLike = 10,
    threshold: ArrayLike = 1e-4,
    cooldown_t: ArrayLike = 0,
    warmup_t: ArrayLike = 0,
    warmup_lr_init: ArrayLike = 0,
    lr_min: ArrayLike = 0,
    mode: str = "max",
) -> TimmPlateau:
    """``timm.scheduler.PlateauLRScheduler(optimizer, **kwargs)`` with the optimizer's lr
    as `base_lr`: see `TimmPlateau`. Noise arguments are not supported."""
    names = dict(factor="decay_rate", patience="patience_t", cooldown="cooldown_t")
    with _checks.renamed(min_lr="lr_min", **names):
        plateau = ReduceOnPlateau(
            base_lr,
            decay_rate,
            patience_t,
            threshold,
            cooldown_t,
            lr_min,
            1e-8,
            mode=mode,
            threshold_mode="rel",
            signed_rel=True,
        )
    return TimmPlateau(plateau, warmup_t, warmup_lr_init)
