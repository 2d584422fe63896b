"""Random learning rates, as pure functions of (step, key).

Each draw uses ``jax.random.fold_in(key, block)`` for the step's block, so the same key
and step always give the same value, any step can be evaluated without the ones before
it, and a vmap over keys gives independent sequences.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules.base import Schedule, static


def _draws(key, blocks, draw):
    """draw(fold_in(key, b)) for every entry of the integer array ``blocks``."""
    flat = jnp.ravel(blocks).astype(jnp.uint32)
    return jax.vmap(lambda b: draw(jax.random.fold_in(key, b)))(flat).reshape(blocks.shape)


class random_uniform(Schedule):
    """A rate drawn afresh every ``every`` steps, uniform in [low, high].

    With ``log_scale=True`` it is log-uniform: ``exp(U(log low, log high))`` (needs
    low > 0). Steps k and k' share a draw when ``k // every == k' // every``. ``key`` is a
    `jax.random` key (typed or raw) and a pytree leaf, so sweeps can vmap over keys.
    """

    key: jax.Array
    low: ArrayLike
    high: ArrayLike
    every: ArrayLike = 1
    log_scale: bool = static(False)

    def __post_init__(self):
        _checks.finite("low", self.low)
        _checks.finite("high", self.high)
        if self.log_scale:
            _checks.positive("low", self.low)
        lo, hi = _checks.concrete(self.low), _checks.concrete(self.high)
        if lo is not None and hi is not None and not lo <= hi:
            raise ValueError(f"low must be <= high, got {lo} and {hi}")
        _checks.positive("every", self.every)

    def _needs_exact_step(self) -> bool:
        return True  # each step draws its own noise

    def _value(self, step, dtype):
        u = _draws(self.key, jnp.floor_divide(step, self.every), jax.random.uniform)
        u = u.astype(dtype)
        if self.log_scale:
            lo, hi = jnp.log(jnp.asarray(self.low, dtype)), jnp.log(jnp.asarray(self.high, dtype))
            return jnp.exp(lo + (hi - lo) * u)
        return self.low + (self.high - self.low) * u


class noise(Schedule):
    """Multiplicative noise on a schedule: lr(k) = schedule(k) * (1 + n_k), for start <= k < stop.

    ``n_k`` is drawn per step. ``kind="normal"``: a normal with standard deviation ``std``
    truncated to (-pct, pct), which is the distribution of timm's redraw-until-inside loop;
    ``kind="uniform"``: uniform in (-pct, pct). Outside [start, stop) the schedule is
    unchanged; ``stop=None`` never stops. After timm's ``noise_range_t``, ``noise_pct`` and
    ``noise_std``; the draws come from ``key``, not from torch's generator, so they differ
    from timm's numbers while following the same law.
    """

    schedule: Schedule
    key: jax.Array
    pct: ArrayLike = 0.67
    std: ArrayLike = 1.0
    start: ArrayLike = 0
    stop: ArrayLike | None = None
    kind: str = static("normal")

    def __post_init__(self):
        _checks.positive("pct", self.pct)
        _checks.positive("std", self.std)
        _checks.nonnegative("start", self.start)
        _checks.nonnegative("stop", self.stop)
        _checks.one_of("kind", self.kind, ("normal", "uniform"))

    def _needs_exact_step(self) -> bool:
        return True  # each step draws its own noise

    def _value(self, step, dtype):
        pct = jnp.asarray(self.pct, dtype)
        if self.kind == "normal":
            bound = pct / self.std

            def draw(k):
                return jax.random.truncated_normal(k, -bound, bound, dtype=dtype) * self.std
        else:

            def draw(k):
                return jax.random.uniform(k, dtype=dtype, minval=-pct, maxval=pct)

        n = _draws(self.key, step, draw)
        on = step >= self.start
        if self.stop is not None:
            on = on & (step < self.stop)
        return self.schedule(step).astype(dtype) * (1 + jnp.where(on, n, 0))
