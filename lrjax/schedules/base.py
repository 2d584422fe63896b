"""The `Schedule` base class: an immutable pytree of hyperparameters, callable on a step."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax._pytree import Pytree
from lrjax._pytree import static as static  # re-exported for the schedule modules


class Schedule(Pytree):
    """A learning-rate schedule: ``schedule(step) -> value``, elementwise in the step.

    Subclasses are frozen dataclasses registered as pytrees. Their ordinary fields are the
    leaves, so any numeric hyperparameter may be a traced array: a schedule can be built
    inside `jax.vmap`, passed into `jax.jit` without recompiling for new values, and used as
    an `optax.Schedule`. Fields declared with `static()` are part of the tree structure.

    Conventions shared by every schedule:

    * ``step`` is the number of updates already applied (0 on the first update, as optax's
      counters). Negative steps are treated as 0.
    * The result has the floating dtype of the float hyperparameters (float64 under
      ``jax_enable_x64`` when they are Python floats or float64 arrays, else float32).
      Arithmetic runs in at least float32 even for bfloat16 hyperparameters.
    * A step beyond int32 is evaluated in int64 under ``jax_enable_x64``; without it, a
      Python int step (or step count) beyond int32 is computed as a float, and a schedule
      that needs the exact step (cycles, restarts, noise) raises `ValueError` instead.
    * Validation runs when the schedule is built from concrete values and raises
      `ValueError` naming the argument; it is skipped for traced values, and unflattening a
      pytree never re-validates.
    """

    def __call__(self, step: ArrayLike) -> jax.Array:
        wide = _wide_step(step)
        if wide is not step and self._needs_exact_step():
            raise ValueError(
                f"step {step!r} is beyond int32 and {type(self).__name__} needs it exactly "
                "(it repeats or replays step by step, and a float32 step loses its phase); "
                "enable jax_enable_x64 for int64 steps"
            )
        step = jnp.maximum(jnp.asarray(wide), 0)
        dtype = self.dtype
        value = self._value(step, jnp.promote_types(dtype, jnp.float32))
        return jnp.asarray(value, dtype)

    def _value(self, step: jax.Array, dtype: Any) -> jax.Array:
        """The formula; `step` is non-negative, `dtype` the float type to compute in."""
        raise NotImplementedError

    def _needs_exact_step(self) -> bool:
        """Whether a step beyond int32 may not be evaluated as a float32 step.

        Without x64, a Python int step beyond int32 is evaluated as a float: monotone and
        smooth schedules lose only float32 rounding there, but a schedule that repeats
        (cycles, restarts, per-step noise) or replays every step would be wrong, so it
        says so here and such a step raises instead. Combinators ask their children.
        """
        children = jax.tree.leaves(
            self, is_leaf=lambda x: isinstance(x, Schedule) and x is not self
        )
        return any(c._needs_exact_step() for c in children if isinstance(c, Schedule))

    @property
    def dtype(self) -> jnp.dtype:
        """The floating dtype of the values: that of the float hyperparameters."""
        floats = [
            x
            for x in jax.tree.leaves(self)
            if isinstance(x, float)
            or (hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating))
        ]
        return jnp.result_type(float, *floats)


def _wide_step(step: ArrayLike) -> ArrayLike:
    """A host-side step beyond int32 (a Python int or a NumPy integer array) as a float
    when 64-bit types are off, so that ``schedule(10**12)`` is evaluated, not refused."""
    if jax.config.jax_enable_x64 or isinstance(step, jax.Array | jax.core.Tracer):
        return step
    if isinstance(step, bool) or not isinstance(step, int | np.integer | np.ndarray):
        return step
    value = np.asarray(step)
    info = np.iinfo(np.int32)
    if (
        np.issubdtype(value.dtype, np.integer)
        and value.size
        and (value.min() < info.min or value.max() > info.max)
    ):
        return value.astype(np.float64)
    return step


def as_array(x: ArrayLike) -> jax.Array:
    """Convert a list or tuple hyperparameter (boundaries, values) to an array."""
    return jnp.asarray(x) if isinstance(x, (list, tuple)) else x


def ratio(num: ArrayLike, den: ArrayLike, dtype: Any) -> jax.Array:
    """num / den in `dtype`, defined as 1 when den == 0 so that unselected branches stay finite."""
    num = jnp.asarray(num, dtype)
    den = jnp.asarray(den, dtype)
    safe = jnp.where(den == 0, 1, den)
    return jnp.where(den == 0, 1, num / safe)


def power(base: jax.Array, exponent: jax.Array) -> jax.Array:
    """base ** exponent for base >= 0 and a float exponent, as exp(exponent * log(base)),
    with 0 ** 0 = 1.

    The same function as ``base ** exponent``; but XLA's general `pow` on traced operands
    costs about ten times this on CPU, and lrjax's hyperparameters are traced whenever a
    schedule is a jit argument. The result is as accurate as the product
    exponent * log(base) (a few ulps for moderate exponents).
    """
    return jnp.where(exponent == 0, 1, jnp.exp(exponent * jnp.log(base)))


ANNEAL_SHAPES = ("linear", "cosine", "exponential", "1-sqrt")


def anneal(start: ArrayLike, end: ArrayLike, pct: jax.Array, shape: str) -> jax.Array:
    """Move from `start` (pct = 0) to `end` (pct = 1) along a named curve.

    * ``linear``: start + (end - start) * pct
    * ``cosine``: end + (start - end) * (1 + cos(pi * pct)) / 2 (Loshchilov & Hutter 2017)
    * ``exponential``: start * (end / start) ** pct, a straight line in log space;
      it needs start > 0 (a zero start stays at 0)
    * ``1-sqrt``: end + (start - end) * (1 - sqrt(pct)) (Hägele et al. 2024, the WSD cool-down)
    """
    if shape == "linear":
        return start + (end - start) * pct
    if shape == "cosine":
        return end + (start - end) * 0.5 * (1 + jnp.cos(jnp.pi * pct))
    if shape == "exponential":
        safe = jnp.where(start == 0, 1, start)
        return jnp.where(start == 0, 0, safe * (end / safe) ** pct)
    if shape == "1-sqrt":
        return end + (start - end) * (1 - jnp.sqrt(pct))
    raise ValueError(f"shape must be one of {ANNEAL_SHAPES}, got {shape!r}")
