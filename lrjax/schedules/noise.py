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
    """draw(fold_in(key, b)) for every entry of the non-negative array ``blocks``.

    `jax.random.fold_in` takes 32 bits, so a 64-bit block (int64 steps under x64) of
    2**32 or more folds in its low word and then its high word: cast to uint32 alone, block
    2**32 + b would wrap onto block b and repeat its draw. Blocks below 2**32 fold in once,
    so their draws do not depend on the step's integer type.
    """
    flat = jnp.ravel(blocks)
    if not jnp.issubdtype(flat.dtype, jnp.integer):  # a float step: floored already
        flat = flat.astype(jax.dtypes.canonicalize_dtype(jnp.uint64))
    wide = jnp.iinfo(flat.dtype).bits > 32

    def one(b):
        low = jax.random.fold_in(key, b.astype(jnp.uint32))  # b mod 2**32
        if not wide:
            return draw(low)
        high = (b >> 32).astype(jnp.uint32)
        return jnp.where(high == 0, draw(low), draw(jax.random.fold_in(low, high)))

    return jax.vmap(one)(flat).reshape(blocks.shape)


@_checks.arguments(low=_checks.NONNEGATIVE, high=_checks.NONNEGATIVE, every=_checks.POSITIVE)
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
        if self.log_scale:
            _checks.positive("low", self.low)
        lo, hi = _checks.concrete(self.low), _checks.concrete(self.high)
        if lo is not None and hi is not None and not lo <= hi:
            raise ValueError(f"low must be <= high, got {lo} and {hi}")

    def _needs_exact_step(self) -> bool:
        return True  # each step draws its own noise

    def _value(self, step, dtype):
        u = _draws(self.key, jnp.floor_divide(step, self.every), jax.random.uniform)
        u = u.astype(dtype)
        if self.log_scale:
            lo, hi = jnp.log(jnp.asarray(self.low, dtype)), jnp.log(jnp.asarray(self.high, dtype))
            return jnp.exp(lo + (hi - lo) * u)
        return self.low + (self.high - self.low) * u


@_checks.arguments(
    pct=_checks.real(0.0, 1.0, open_low=True),
    std=_checks.POSITIVE,
    start=_checks.START,
    stop=_checks.integer(0, optional=True),
)
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
