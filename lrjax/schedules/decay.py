"""Monotone decays: constant, step, piecewise, exponential, inverse-time, polynomial,
cosine, tanh and inverse square root.

In every formula ``k`` is the step (updates already applied) and ``t = max(k - begin, 0)``.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules.base import ANNEAL_SHAPES, Schedule, anneal, as_array, power, static


def _elapsed(step, begin):
    """t = max(step - begin, 0), exact in the step's own (integer) type."""
    return jnp.maximum(step - begin, 0)


def _progress(step, begin, steps, staircase: bool, dtype):
    """t / steps, or floor(t / steps) computed exactly when staircase."""
    t = _elapsed(step, begin)
    if staircase:
        return jnp.floor_divide(t, steps).astype(dtype)
    return t.astype(dtype) / steps


@_checks.arguments(value=_checks.NONNEGATIVE)
class constant(Schedule):
    """lr(k) = value.

    Examples:
        >>> float(constant(0.1)(1000))
        0.10000000149011612
    """

    value: ArrayLike

    def _value(self, step, dtype):
        return jnp.zeros(step.shape, dtype) + self.value


@_checks.arguments(init=_checks.NONNEGATIVE, factor=_checks.NONNEGATIVE, every=_checks.POSITIVE)
class step_decay(Schedule):
    """lr(k) = init * factor ** floor(k / every).

    The first decay takes effect at k = every (PyTorch ``StepLR``, Keras
    ``ExponentialDecay(staircase=True)``). The floor is exact integer division when the
    step and ``every`` are integers.
    """

    init: ArrayLike
    factor: ArrayLike
    every: ArrayLike

    def _value(self, step, dtype):
        return self.init * jnp.asarray(self.factor, dtype) ** jnp.floor_divide(step, self.every)


@_checks.arguments(
    init=_checks.NONNEGATIVE,
    milestones=_checks.integer(0, shape="vector"),
    factor=_checks.NONNEGATIVE,
)
class multi_step(Schedule):
    """lr(k) = init * factor ** #{m in milestones : m <= k}.

    The new value is first used at k = m, and a milestone listed twice decays twice
    (PyTorch ``MultiStepLR``). ``milestones`` is an array, so it can be traced and vmapped.
    """

    init: ArrayLike
    milestones: ArrayLike
    factor: ArrayLike

    def __post_init__(self):
        object.__setattr__(self, "milestones", as_array(self.milestones))

    def _value(self, step, dtype):
        passed = jnp.sum(step[..., None] >= self.milestones, axis=-1)
        return self.init * jnp.asarray(self.factor, dtype) ** passed


@_checks.arguments(boundaries=_checks.real(shape="vector"), values=_checks.real(0, shape="vector"))
class piecewise_constant(Schedule):
    """lr(k) = values[i] where i counts the boundaries already passed.

    With ``side='right'`` (default) a boundary b counts once k >= b, so ``values[i+1]`` is
    first used at k = boundaries[i] (PyTorch ``MultiStepLR``, optax). With ``side='left'`` it
    counts once k > b, so the boundary step keeps the earlier value (Keras
    ``PiecewiseConstantDecay``). ``len(values) == len(boundaries) + 1``.
    """

    boundaries: ArrayLike
    values: ArrayLike
    side: str = static("right")

    def __post_init__(self):
        object.__setattr__(self, "boundaries", as_array(self.boundaries))
        object.__setattr__(self, "values", as_array(self.values))
        _checks.one_of("side", self.side, ("left", "right"))
        n_b, n_v = jnp.shape(self.boundaries)[-1], jnp.shape(self.values)[-1]
        if n_v != n_b + 1:
            raise ValueError(
                f"values must have one more entry than boundaries, got {n_v} values "
                f"for {n_b} boundaries"
            )
        _checks.nondecreasing("boundaries", self.boundaries)

    def _value(self, step, dtype):
        values = jnp.asarray(self.values, dtype)
        out = jnp.broadcast_to(values[0], step.shape)
        for i in range(self.boundaries.shape[-1]):  # boundaries are sorted: the last wins
            b = self.boundaries[i]
            out = jnp.where(step > b if self.side == "left" else step >= b, values[i + 1], out)
        return out


def interpolate(step, knots, values, shape: str, dtype):
    """Anneal between consecutive (knot, value) pairs; the shared core of piecewise schedules.

    Segment i is the first whose end knot is >= the step (PyTorch ``OneCycleLR``'s phase
    rule), and ``pct = (k - knots[i]) / (knots[i+1] - knots[i])`` is clipped to [0, 1].
    """
    knots = jnp.asarray(knots, dtype)
    values = jnp.asarray(values, dtype)
    t = step.astype(dtype)
    segment = jnp.sum(t[..., None] > knots[1:-1], axis=-1)
    lo, hi = knots[segment], knots[segment + 1]
    length = hi - lo
    pct = jnp.clip((t - lo) / jnp.where(length != 0, length, 1), 0, 1)
    pct = jnp.where(length != 0, pct, 1)
    return anneal(values[segment], values[segment + 1], pct, shape)


@_checks.arguments(boundaries=_checks.real(shape="vector"), values=_checks.real(shape="vector"))
class piecewise_interpolate(Schedule):
    """Interpolate between knots: lr = anneal(values[i], values[i+1], pct, shape) on segment i.

    For boundaries[i] <= k <= boundaries[i+1], ``pct = (k - boundaries[i]) /
    (boundaries[i+1] - boundaries[i])``; before the first knot the value is ``values[0]``
    and after the last it is ``values[-1]``. ``shape`` is one of ``linear``, ``cosine``,
    ``exponential`` or ``1-sqrt`` (see `lrjax.schedules.base.anneal`). Knots are arrays and
    may be fractional or traced (optax ``piecewise_interpolate_schedule`` with absolute
    values). A single knot is the constant it names. Consecutive values may not change
    sign: that is a negative scale in optax's relative form, which optax refuses too.
    """

    boundaries: ArrayLike
    values: ArrayLike
    shape: str = static("linear")

    def __post_init__(self):
        object.__setattr__(self, "boundaries", as_array(self.boundaries))
        object.__setattr__(self, "values", as_array(self.values))
        _checks.one_of("shape", self.shape, ANNEAL_SHAPES)
        n_b, n_v = jnp.shape(self.boundaries)[-1], jnp.shape(self.values)[-1]
        if n_b != n_v or n_b < 1:
            raise ValueError(
                f"boundaries and values must have the same length >= 1, got {n_b} and {n_v}"
            )
        _checks.nondecreasing("boundaries", self.boundaries)
        _checks.check(
            "values",
            self.values,
            lambda v: v[..., :-1] * v[..., 1:] >= 0,
            "of one sign (a negative scale between knots)",
        )

    def _value(self, step, dtype):
        if jnp.shape(self.values)[-1] == 1:  # one knot: the constant it names
            values = jnp.asarray(self.values, dtype)[..., 0]
            return jnp.broadcast_to(values, jnp.broadcast_shapes(step.shape, values.shape))
        return interpolate(step, self.boundaries, self.values, self.shape, dtype)


@_checks.arguments(
    init=_checks.NONNEGATIVE,
    rate=_checks.NONNEGATIVE,
    steps=_checks.POSITIVE,
    begin=_checks.START,
    end=_checks.real(0, optional=True),
)
class exponential_decay(Schedule):
    """lr(k) = init * rate ** (t / steps), with t = max(k - begin, 0).

    With ``staircase`` the exponent is floor(t / steps) (exact integer division). With
    ``end`` the value is bounded by it: a floor when rate < 1, a ceiling when rate > 1.
    With rate == 1 the value is ``init`` and ``end`` does not apply (optax would clip
    ``init`` to ``end``). With rate == 0 the formula gives ``init`` while the exponent is 0
    and 0 after, as Keras and torch's ``ExponentialLR(gamma=0)``; optax instead warns and
    returns the constant ``init``. Before ``begin`` the value is ``init``. Sources: optax
    ``exponential_decay``, Keras
    ``ExponentialDecay``; PyTorch ``ExponentialLR`` is ``steps=1``.

    Examples:
        >>> round(float(exponential_decay(0.1, 0.5, steps=100)(200)), 6)  # two halvings
        0.025
        >>> round(float(exponential_decay(0.1, 0.5, steps=100, end=0.03)(200)), 6)
        0.03
    """

    init: ArrayLike
    rate: ArrayLike
    steps: ArrayLike = 1
    begin: ArrayLike = 0
    end: ArrayLike | None = None
    staircase: bool = static(False)

    def _value(self, step, dtype):
        p = _progress(step, self.begin, self.steps, self.staircase, dtype)
        value = _scaled(self.init, power(jnp.asarray(self.rate, dtype), p))
        return _bound(value, self.end, jnp.sign(1 - jnp.asarray(self.rate, dtype)))


@_checks.arguments(
    init=_checks.NONNEGATIVE,
    decay=_checks.FINITE,
    steps=_checks.POSITIVE,
    begin=_checks.START,
    end=_checks.real(0, optional=True),
)
class natural_exp_decay(Schedule):
    """lr(k) = init * exp(-decay * t / steps), with t = max(k - begin, 0).

    The same schedule as `exponential_decay` with rate = exp(-decay), in the form of
    TensorFlow's ``natural_exp_decay``. ``staircase``, ``begin`` and ``end`` work as there
    (``end`` is a floor when decay > 0, a ceiling when decay < 0).
    """

    init: ArrayLike
    decay: ArrayLike
    steps: ArrayLike = 1
    begin: ArrayLike = 0
    end: ArrayLike | None = None
    staircase: bool = static(False)

    def _value(self, step, dtype):
        p = _progress(step, self.begin, self.steps, self.staircase, dtype)
        value = _scaled(self.init, jnp.exp(-self.decay * p))
        return _bound(value, self.end, jnp.sign(self.decay))


def _scaled(init, growth):
    """init * growth, which stays 0 for init == 0 after growth overflows (not 0 * inf = NaN)."""
    return jnp.where(init == 0, 0, init * growth)


def _bound(value, end, direction):
    """Bound by ``end``: a floor while decaying (direction > 0), a ceiling while growing
    (direction < 0), nothing for a constant (direction == 0)."""
    if end is None:
        return value
    bounded = jnp.where(direction > 0, jnp.maximum(value, end), jnp.minimum(value, end))
    return jnp.where(direction == 0, value, bounded)


@_checks.arguments(
    init=_checks.NONNEGATIVE, rate=_checks.NONNEGATIVE, steps=_checks.POSITIVE, begin=_checks.START
)
class inverse_time_decay(Schedule):
    """lr(k) = init / (1 + rate * t / steps), with t = max(k - begin, 0).

    With ``staircase`` the ratio t / steps is floored. The defaults give the plain 1/t
    form: ``inverse_time_decay(init)(k) = init / (k + 1)``, i.e. init / t for the 1-based
    update count t. Sources: Keras ``InverseTimeDecay``; Robbins & Monro (1951) for the 1/t
    rate.
    """

    init: ArrayLike
    rate: ArrayLike = 1.0
    steps: ArrayLike = 1
    begin: ArrayLike = 0
    staircase: bool = static(False)

    def _value(self, step, dtype):
        p = _progress(step, self.begin, self.steps, self.staircase, dtype)
        return self.init / (1 + self.rate * p)


@_checks.arguments(
    init=_checks.NONNEGATIVE,
    end=_checks.NONNEGATIVE,
    steps=_checks.STEPS,
    power=_checks.real(0, open_low=True, optional=True),
    begin=_checks.START,
)
class polynomial_decay(Schedule):
    """lr(k) = (init - end) * (1 - min(t, steps) / steps) ** power + end, t = max(k - begin, 0).

    Reaches ``end`` at k = begin + steps and holds it. ``power=None`` (the default) is 1,
    a straight line, without the cost of a traced power. With ``cycle`` (Keras/TensorFlow's
    option) the horizon instead stretches to the next multiple of ``steps``:
    ``steps' = steps * max(1, ceil(t / steps))`` and the value is
    ``(init - end) * (1 - t / steps') ** power + end``, so past the first horizon the rate
    jumps up but not back to ``init``. Sources: optax ``polynomial_schedule``, Keras
    ``PolynomialDecay``, PyTorch ``PolynomialLR`` (end = 0).
    """

    init: ArrayLike
    end: ArrayLike
    steps: ArrayLike
    power: ArrayLike | None = None
    begin: ArrayLike = 0
    cycle: bool = static(False)

    def _value(self, step, dtype):
        elapsed = _elapsed(step, self.begin)
        t = elapsed.astype(dtype)
        horizon = jnp.asarray(self.steps, dtype)
        if self.cycle:
            # ceil(t / steps) by exact floor division: a float quotient such as 180 / 60
            # may round to 3.0000002 and skip to the next horizon.
            horizon = horizon * jnp.maximum(1, -jnp.floor_divide(-elapsed, self.steps))
        else:
            t = jnp.minimum(t, horizon)
        # Clamped: compiled code may divide via a reciprocal, so t == horizon can give
        # 1 - t / horizon = -1e-7, and a fractional power of that is NaN.
        remaining = jnp.maximum(1 - t / horizon, 0)
        if self.power is not None:
            if isinstance(self.power, (int, float)):  # a constant: XLA simplifies x ** 2.0 to x * x
                remaining = remaining**self.power
            else:
                remaining = power(remaining, jnp.asarray(self.power, dtype))
        return (self.init - self.end) * remaining + self.end


@_checks.arguments(
    init=_checks.NONNEGATIVE, end=_checks.NONNEGATIVE, steps=_checks.STEPS, begin=_checks.START
)
class linear(Schedule):
    """lr(k) = init + (end - init) * min(t, steps) / steps, with t = max(k - begin, 0).

    A straight line from ``init`` at k = begin to ``end`` at k = begin + steps, held after.
    Sources: optax ``linear_schedule``; PyTorch ``LinearLR`` is
    ``linear(base * start_factor, base * end_factor, total_iters)``.
    """

    init: ArrayLike
    end: ArrayLike
    steps: ArrayLike
    begin: ArrayLike = 0

    def _value(self, step, dtype):
        t = jnp.minimum(_elapsed(step, self.begin), self.steps).astype(dtype)
        return self.init + (self.end - self.init) * (t / self.steps)


@_checks.arguments(
    peak=_checks.NONNEGATIVE,
    decay_steps=_checks.STEPS,
    final=_checks.NONNEGATIVE,
    exponent=_checks.real(0, open_low=True, optional=True),
    alpha=_checks.real(0.0, 1.0, optional=True),
)
class cosine_decay(Schedule):
    """lr(k) = final + (peak - final) * c ** exponent, c = (1 + cos(pi * min(k, T) / T)) / 2.

    ``T = decay_steps``. The rate falls from ``peak`` to ``final`` along half a cosine and
    holds ``final`` after T (Loshchilov & Hutter 2017, "SGDR", without restarts). Keras and
    optax express the floor as a fraction: pass ``alpha=`` instead of ``final`` to set
    ``final = alpha * peak``. ``exponent`` raises the cosine factor as optax does (None,
    the default, is 1 without the cost of a traced power). With
    ``periodic=True`` the cosine is not clamped at T and climbs back to ``peak`` at 2T
    (PyTorch ``CosineAnnealingLR``).

    Examples:
        >>> round(float(cosine_decay(0.1, 100)(50)), 6)  # half way: half the peak
        0.05
        >>> round(float(cosine_decay(0.1, 100, final=0.01)(100)), 6)
        0.01
    """

    peak: ArrayLike
    decay_steps: ArrayLike
    final: ArrayLike = 0.0
    exponent: ArrayLike | None = None
    periodic: bool = static(False)
    alpha: dataclasses.InitVar[ArrayLike | None] = None

    def __post_init__(self, alpha):
        if alpha is not None:
            _checks.between("alpha", alpha, 0.0, 1.0)
            object.__setattr__(self, "final", alpha * self.peak)

    def _needs_exact_step(self) -> bool:
        return self.periodic  # the unclamped cosine repeats

    def _value(self, step, dtype):
        frac = step.astype(dtype) / self.decay_steps
        if not self.periodic:
            frac = jnp.minimum(frac, 1)
        c = 0.5 * (1 + jnp.cos(jnp.pi * frac))
        if self.exponent is not None:
            c = c**self.exponent
        return self.final + (self.peak - self.final) * c


@_checks.arguments(
    init=_checks.NONNEGATIVE,
    steps=_checks.STEPS,
    final=_checks.NONNEGATIVE,
    lb=_checks.FINITE,
    ub=_checks.FINITE,
)
class tanh_decay(Schedule):
    """lr(k) = final + (init - final) * (1 - tanh(lb * (1 - x) + ub * x)) / 2, x = min(k / T, 1).

    T = ``steps``. Hyperbolic-tangent decay (Hsueh et al. 2019, "Stochastic gradient descent with
    hyperbolic-tangent decay on classification"; timm ``TanhLRScheduler``). The bounds
    ``lb < ub`` set where the fall happens; at x = 0 the value is slightly below ``init``
    (tanh(lb) > -1) and at x = 1 slightly above ``final``; it holds that value after.
    """

    init: ArrayLike
    steps: ArrayLike
    final: ArrayLike = 0.0
    lb: ArrayLike = -7.0
    ub: ArrayLike = 3.0

    def __post_init__(self):
        _checks.ordered("lb", self.lb, "ub", self.ub)

    def _value(self, step, dtype):
        x = jnp.minimum(step.astype(dtype) / self.steps, 1)
        return self.final + (self.init - self.final) * 0.5 * (
            1 - jnp.tanh(self.lb * (1 - x) + self.ub * x)
        )


@_checks.arguments(
    peak=_checks.NONNEGATIVE,
    warmup_steps=_checks.START,
    timescale=_checks.real(0, open_low=True, optional=True),
    init=_checks.NONNEGATIVE,
    cooldown_steps=_checks.START,
    total_steps=_checks.integer(0, optional=True),
)
class inverse_sqrt(Schedule):
    """Linear warmup, then lr(k) = peak / sqrt(1 + (k - W) / timescale), with an optional cool-down.

    * k < W (``warmup_steps``): ``init + (peak - init) * k / W``.
    * k >= W: ``peak / sqrt(1 + (k - W) / timescale)``. The default timescale is
      ``max(W, 1)``, which gives Vaswani et al. (2017)'s ``peak * sqrt(W / k)``.
    * With ``total_steps`` T, the value is multiplied by ``clip((T - k) / C, 0, 1)`` where
      C = ``cooldown_steps``: a linear cool-down to 0 over the last C steps (Zhai et al. 2022,
      "Scaling Vision Transformers"; big_vision's ``rsqrt`` schedule). With C = 0 the rate
      drops to 0 at T.
    """

    peak: ArrayLike
    warmup_steps: ArrayLike = 0
    timescale: ArrayLike | None = None
    init: ArrayLike = 0.0
    cooldown_steps: ArrayLike = 0
    total_steps: ArrayLike | None = None

    def __post_init__(self):
        cooldown = _checks.concrete(self.cooldown_steps)
        if self.total_steps is None and (cooldown is None or cooldown != 0):
            raise ValueError("cooldown_steps needs total_steps, got total_steps=None")

    def _value(self, step, dtype):
        t = step.astype(dtype)
        warm = jnp.asarray(self.warmup_steps, dtype)
        timescale = jnp.maximum(warm, 1) if self.timescale is None else self.timescale
        ramp = self.init + (self.peak - self.init) * t / jnp.where(warm > 0, warm, 1)
        value = jnp.where(
            t < warm, ramp, self.peak / jnp.sqrt(1 + jnp.maximum(t - warm, 0) / timescale)
        )
        if self.total_steps is None:
            return value
        left = self.total_steps - t
        cool = jnp.asarray(self.cooldown_steps, dtype)
        mult = jnp.where(
            cool > 0, jnp.clip(left / jnp.where(cool > 0, cool, 1), 0, 1), (left > 0).astype(dtype)
        )
        return value * mult


@_checks.arguments(
    peak=_checks.NONNEGATIVE,
    warmup_steps=_checks.START,
    stable_steps=_checks.START,
    decay_steps=_checks.START,
    init=_checks.NONNEGATIVE,
    final=_checks.NONNEGATIVE,
)
class warmup_stable_decay(Schedule):
    """Warmup-stable-decay (WSD): a ramp up, a long plateau, then a short cool-down.

    * k < W: ``anneal(init, peak, k / W, warmup_shape)``
    * W <= k < W + S: ``peak``
    * after: ``anneal(peak, final, min((k - W - S) / D, 1), decay_shape)``

    with W, S, D = ``warmup_steps``, ``stable_steps``, ``decay_steps``. Cool-down shapes:
    ``linear``, ``cosine``, ``1-sqrt`` (Hägele et al. 2024, "Scaling Laws and
    Compute-Optimal Training beyond Fixed Training Durations") and ``exponential``
    (geometric from peak to final, which must be > 0; Hu et al. 2024, "MiniCPM").
    """

    peak: ArrayLike
    warmup_steps: ArrayLike
    stable_steps: ArrayLike
    decay_steps: ArrayLike
    init: ArrayLike = 0.0
    final: ArrayLike = 0.0
    decay_shape: str = static("linear")
    warmup_shape: str = static("linear")

    def __post_init__(self):
        _checks.one_of("decay_shape", self.decay_shape, ANNEAL_SHAPES)
        _checks.one_of("warmup_shape", self.warmup_shape, ANNEAL_SHAPES)
        if self.decay_shape == "exponential":
            _checks.positive("final", self.final)

    def _value(self, step, dtype):
        t = step.astype(dtype)
        warm = jnp.asarray(self.warmup_steps, dtype)
        cool_start = warm + self.stable_steps
        decay = jnp.asarray(self.decay_steps, dtype)
        up = anneal(self.init, self.peak, t / jnp.where(warm > 0, warm, 1), self.warmup_shape)
        pct = jnp.clip((t - cool_start) / jnp.where(decay > 0, decay, 1), 0, 1)
        pct = jnp.where(decay > 0, pct, 1)
        down = anneal(self.peak, self.final, pct, self.decay_shape)
        return jnp.where(t < warm, up, jnp.where(t < cool_start, self.peak, down))
