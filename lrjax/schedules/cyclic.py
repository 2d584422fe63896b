"""Schedules that cycle: warm restarts (SGDR), triangular cycles (CLR) and one-cycle."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules.base import Schedule, power, static
from lrjax.schedules.decay import interpolate


def geometric_cycle(step, period, mult):
    """Locate ``step`` in cycles of lengths period, period * mult, period * mult**2, ...

    Returns ``(n, t, length)``: the 0-based cycle index, the steps since that cycle began,
    and its length (saturated at the integer type's maximum). Cycle n starts at
    ``period * (mult**n - 1) / (mult - 1)``. ``n`` has the inputs' integer type (int64
    for an int64 step under x64, so it does not wrap at 2**31); for a float step or period
    it is the default integer type, saturated at 2**30 (2**62 under x64).
    Found by walking the cycle starts with exact arithmetic (integer when the inputs are
    integers; lengths saturate instead of overflowing), never by a float ``log``, so a
    restart step always opens the new cycle. The walk takes log_mult(step / period)
    iterations; mult == 1 uses one integer division.
    """
    dtype = jnp.result_type(step, period, mult)
    step, period, mult = (jnp.asarray(x, dtype) for x in (step, period, mult))
    shape = jnp.broadcast_shapes(step.shape, period.shape, mult.shape)
    geometric = mult > 1
    integer = jnp.issubdtype(dtype, jnp.integer)
    # The index counts in the step's own integer type: an int32 index wraps at 2**31
    # cycles, which int64 steps reach (step 2**40 of period 10 is in cycle ~2**36.7), and
    # a wrapped, negative index makes decay**n overflow to inf.
    index = dtype if integer else jax.dtypes.canonicalize_dtype(jnp.int64)
    if integer:
        top = jnp.iinfo(dtype).max

        def grow(length):
            return jnp.where(length > top // jnp.maximum(mult, 1), top, length * mult)
    else:

        def grow(length):
            return length * mult

    def active(carry):
        _, start, length = carry
        return geometric & (length > 0) & (length <= step - start)

    def advance(carry):
        n, start, length = carry
        go = active(carry)
        return n + go, jnp.where(go, start + length, start), jnp.where(go, grow(length), length)

    def equal(_):
        whole = jnp.floor_divide(step, jnp.where(period > 0, period, 1))
        n = whole
        if not integer:
            # A float quotient may exceed the index type; saturate it at a power of two
            # that every float type holds exactly, instead of an out-of-range cast.
            n = jnp.minimum(whole, 2 ** (jnp.iinfo(index).bits - 2)).astype(index)
        out = n, step - whole * period, period
        return tuple(jnp.broadcast_to(x, shape) for x in out)

    def walk(_):
        first = (
            jnp.zeros(shape, index),
            jnp.zeros(shape, dtype),
            jnp.broadcast_to(period, shape),
        )
        n, start, length = lax.while_loop(lambda c: jnp.any(active(c)), advance, first)
        walked = n, step - start, length
        return tuple(jnp.where(geometric, a, b) for a, b in zip(walked, equal(None), strict=True))

    # Only a growing cycle needs the walk; the cond skips it, and its passes over every
    # step, when no cycle grows (which a traced mult of 1 cannot tell at compile time).
    return lax.cond(jnp.any(geometric), walk, equal, None)


@_checks.arguments(
    peak=_checks.NONNEGATIVE,
    period=_checks.POSITIVE,
    mult=_checks.real(1),
    final=_checks.NONNEGATIVE,
    decay=_checks.NONNEGATIVE,
    cycles=_checks.integer(0, optional=True),
    k_decay=_checks.real(0, open_low=True, optional=True),
)
class warm_restarts(Schedule):
    """Stochastic gradient descent with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle n lasts ``T_n = period * mult**n`` steps (exact integer cycle arithmetic, see
    `geometric_cycle`). With ``t`` the steps into the cycle and ``x = (t / T_n) ** k_decay``::

        lr = final + (peak * decay**n - final) * u(x)     (decay_mode="peak", default)
        lr = final + (peak - final) * decay**n * u(x)     (decay_mode="amplitude")

    where ``u(x) = (1 + cos(pi x)) / 2``, or ``shape(x)`` when a unit-interval schedule is
    given as ``shape`` (for example ``tanh_decay(1.0, 1)`` or
    ``polynomial_decay(1.0, 0.0, 1, power=2)``). ``decay_mode="peak"`` decays each cycle's
    peak toward a fixed floor (timm's ``cycle_decay``); ``"amplitude"`` scales the height
    above the floor (Keras' ``m_mul``). After ``cycles`` cycles (None: never) the rate stays
    at ``final`` (timm's ``cycle_limit``). ``k_decay`` reshapes each cycle as in timm
    (k > 1 keeps the rate high for longer; None, the default, is k = 1). The restart value
    is reached exactly at k = period, period * (1 + mult), ...; ``final`` is approached but
    not reached within a cycle.
    """

    peak: ArrayLike
    period: ArrayLike
    mult: ArrayLike = 1
    final: ArrayLike = 0.0
    decay: ArrayLike = 1.0
    cycles: ArrayLike | None = None
    k_decay: ArrayLike | None = None
    shape: Schedule | None = None
    decay_mode: str = static("peak")

    def __post_init__(self):
        _checks.one_of("decay_mode", self.decay_mode, ("peak", "amplitude"))

    def _needs_exact_step(self) -> bool:
        # The cycle walk is exact integer arithmetic; a single cycle (timm's default
        # cycle_limit=1) is a plain decay followed by a hold.
        cycles = _checks.concrete(self.cycles)
        return cycles is None or cycles.ndim > 0 or int(cycles) != 1

    def _value(self, step, dtype):
        n, t, _ = geometric_cycle(step, self.period, self.mult)
        # The length in floating point: the exact integer one saturates past 2**31 - 1.
        length = jnp.asarray(self.period, dtype) * power(
            jnp.asarray(self.mult, dtype), n.astype(dtype)
        )
        x = t.astype(dtype) / length
        if self.k_decay is not None:
            x = x**self.k_decay
        unit = 0.5 * (1 + jnp.cos(jnp.pi * x)) if self.shape is None else self.shape(x)
        fade = power(jnp.asarray(self.decay, dtype), n.astype(dtype))
        if self.decay_mode == "peak":
            value = self.final + (self.peak * fade - self.final) * unit
        else:
            value = self.final + (self.peak - self.final) * fade * unit
        if self.cycles is None:
            return value
        return jnp.where(n < self.cycles, value, self.final)


_SCALES = {
    "triangular": lambda x, gamma: jnp.ones_like(x),
    "triangular2": lambda x, gamma: 0.5 ** (x - 1),
    "exp_range": lambda x, gamma: gamma**x,
}


@_checks.arguments(
    low=_checks.NONNEGATIVE,
    high=_checks.NONNEGATIVE,
    up_steps=_checks.POSITIVE,
    down_steps=_checks.real(0, open_low=True, optional=True),
    gamma=_checks.real(0.0, 1.0, open_low=True),
    base_momentum=_checks.real(0.0, 1.0),
    max_momentum=_checks.real(0.0, 1.0),
    scale_fn=_checks.function(optional=True),
)
class cyclic(Schedule):
    """Cyclical learning rate (CLR; Smith 2017, "Cyclical Learning Rates for Training Neural
    Networks").

    Each cycle rises linearly from ``low`` to ``high`` over ``up_steps`` and falls back over
    ``down_steps`` (default: ``up_steps``). With ``p = k mod (up + down)`` (exact)::

        s = p / up              if p <= up
        s = (up + down - p) / down  otherwise
        lr = low + (high - low) * s * scale

    ``scale`` is 1 (``triangular``), ``1 / 2**(c - 1)`` for the 1-based cycle c
    (``triangular2``), or ``gamma**k`` (``exp_range``, per iteration). A custom
    ``scale_fn(x)`` replaces the mode, with x the 1-based cycle (``scale_mode="cycle"``) or
    the step (``"iterations"``), as in PyTorch ``CyclicLR``. The companion momentum cycles
    the other way, from ``max_momentum`` down to ``base_momentum`` (`momentum`).
    """

    low: ArrayLike
    high: ArrayLike
    up_steps: ArrayLike
    down_steps: ArrayLike | None = None
    gamma: ArrayLike = 1.0
    base_momentum: ArrayLike = 0.8
    max_momentum: ArrayLike = 0.9
    mode: str = static("triangular")
    scale_fn: Callable[[jax.Array], jax.Array] | None = static(None)
    scale_mode: str = static("cycle")
    cycle_momentum: bool = static(True)

    def __post_init__(self):
        if self.down_steps is None:
            object.__setattr__(self, "down_steps", self.up_steps)
        _checks.one_of("mode", self.mode, tuple(_SCALES))
        _checks.one_of("scale_mode", self.scale_mode, ("cycle", "iterations"))

    def _needs_exact_step(self) -> bool:
        return True  # it repeats: a float32 step loses the phase

    def _value(self, step, dtype):
        total = self.up_steps + self.down_steps
        cycle = jnp.floor_divide(step, total)
        p = (step - cycle * total).astype(dtype)
        s = jnp.where(p <= self.up_steps, p / self.up_steps, (total - p) / self.down_steps)
        if self.scale_fn is not None:
            x = cycle + 1 if self.scale_mode == "cycle" else step
            scale = self.scale_fn(x.astype(dtype))
        elif self.mode == "exp_range":
            scale = _SCALES["exp_range"](step.astype(dtype), self.gamma)
        else:
            scale = _SCALES[self.mode]((cycle + 1).astype(dtype), self.gamma)
        # At the foot of a cycle (s = 0) the rate is `low` whatever the scale: a growing
        # exp_range scale (gamma > 1, which torch accepts) overflows to inf, and 0 * inf
        # would be NaN; elsewhere an overflowed scale gives inf, not NaN.
        return self.low + (self.high - self.low) * jnp.where(s == 0, 0, s * scale)

    @property
    def momentum(self) -> cyclic | None:
        """max_momentum - (max_momentum - base_momentum) * s * scale; None if not cycled."""
        if not self.cycle_momentum:
            return None
        return self._derived(low=self.max_momentum, high=self.base_momentum)


@_checks.arguments(
    peak=_checks.NONNEGATIVE,
    total_steps=_checks.STEPS,
    pct_start=_checks.real(0.0, 1.0),
    div_factor=_checks.POSITIVE,
    final_div_factor=_checks.POSITIVE,
    base_momentum=_checks.real(0.0, 1.0),
    max_momentum=_checks.real(0.0, 1.0),
)
class one_cycle(Schedule):
    """The 1cycle policy (Smith & Topin 2019), with PyTorch ``OneCycleLR``'s phases.

    With ``init = peak / div_factor``, ``min = init / final_div_factor`` and T =
    ``total_steps``, the rate anneals (``cosine`` or ``linear``) between knots::

        two phases:   (0, init) -> (p*T - 1, peak) -> (T - 1, min)
        three phases: (0, init) -> (p*T - 1, peak) -> (2*p*T - 2, init) -> (T - 1, min)

    with p = ``pct_start``, and holds ``min`` after T - 1. Three phases reach ``min`` at
    T - 1 only when p <= (T + 1) / (2T); with a later peak the rate is still coming down
    from it at T - 1, as in PyTorch, and drops to ``min`` after. Knots need not be integers, so
    the peak may fall between steps. The companion `momentum` runs ``max_momentum ->
    base_momentum -> max_momentum`` over the same knots (three phases: ``max -> base ->
    max -> max``).
    """

    peak: ArrayLike
    total_steps: ArrayLike
    pct_start: ArrayLike = 0.3
    div_factor: ArrayLike = 25.0
    final_div_factor: ArrayLike = 1e4
    base_momentum: ArrayLike = 0.85
    max_momentum: ArrayLike = 0.95
    anneal: str = static("cosine")
    three_phase: bool = static(False)
    cycle_momentum: bool = static(True)
    which: str = static("lr")

    def __post_init__(self):
        _checks.one_of("anneal", self.anneal, ("cosine", "linear"))
        _checks.one_of("which", self.which, ("lr", "momentum"))

    def _knots(self, dtype):
        rise = jnp.asarray(self.pct_start, dtype) * self.total_steps
        end = jnp.asarray(self.total_steps, dtype) - 1
        if self.three_phase:
            return jnp.stack(jnp.broadcast_arrays(0 * end, rise - 1, 2 * rise - 2, end))
        return jnp.stack(jnp.broadcast_arrays(0 * end, rise - 1, end))

    def _value(self, step, dtype):
        if self.which == "momentum":
            hi, lo = self.max_momentum, self.base_momentum
            points = (hi, lo, hi, hi) if self.three_phase else (hi, lo, hi)
        else:
            init = self.peak / jnp.asarray(self.div_factor, dtype)
            low = init / self.final_div_factor
            points = (init, self.peak, init, low) if self.three_phase else (init, self.peak, low)
        values = jnp.stack(jnp.broadcast_arrays(*(jnp.asarray(v, dtype) for v in points)))
        knots = self._knots(dtype)
        value = interpolate(step, knots, values, self.anneal, dtype)
        # Up to T - 1 this is torch's phase rule, even when a late three-phase peak leaves
        # the last knot unreached; after T - 1 the final value holds.
        return jnp.where(step.astype(dtype) > knots[-1], values[-1], value)

    @property
    def momentum(self) -> one_cycle | None:
        """The momentum (or Adam beta1) schedule that accompanies the rate; None if not cycled."""
        if not self.cycle_momentum:
            return None
        return self._derived(which="momentum")
