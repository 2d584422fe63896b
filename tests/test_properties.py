"""Property-based tests (hypothesis) for `lrjax.schedules`.

Properties: every value is finite for int32 steps up to 2**31 - 1, values stay inside the
documented range, monotone where the docstrings say so, continuous at the joins they claim,
`geometric_cycle` agrees with exact integer arithmetic, and a vmapped batch of schedules
equals evaluating each member on its own.

Schedules are evaluated through one jitted function that takes the schedule pytree as an
argument, so new hyperparameter values reuse the compiled program; only a new tree
structure (a different static field, None versus a value) or a new step shape compiles.
Every step array below has one of a few fixed shapes for the same reason. Float32 rounding
is allowed for with a relative slack of `RTOL` times the scale of the values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrjax import schedules as S

TOP = 2**31 - 1  # the largest int32 step
N = 32  # length of every int32 step array (fixed so that compiled programs are reused)
RTOL = 1e-6  # float32 slack, relative to the scale of the values
ATOL = 1e-37  # products of drawn values may underflow float32 (smallest normal 1.2e-38)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(SETTINGS, max_examples=15)

_EVAL = jax.jit(lambda schedule, step: schedule(step))


def ev(schedule: S.Schedule, steps) -> np.ndarray:
    """schedule(steps) through the shared jitted evaluator, as a float64 NumPy array."""
    return np.asarray(_EVAL(schedule, jnp.asarray(steps)), np.float64)


# --------------------------------------------------------------------------------------
# Strategies


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    """float32 values without subnormals (XLA flushes those to zero)."""
    low, high = float(np.float32(low)), float(np.float32(high))
    return st.floats(low, high, width=32, allow_subnormal=False)


PEAK = floats(1e-6, 10.0)
FRAC = floats(0.0, 1.0)
COUNT = st.integers(1, 10**6)
BEGIN = st.integers(0, 10**6)


def _with_extremes(a: np.ndarray) -> np.ndarray:
    """Make the first and last entries the extreme steps 0 and 2**31 - 1."""
    a = np.array(a, np.int32)
    a[0], a[-1] = 0, TOP
    return a


# Random int32 steps over the whole range, half of them drawn small (where the schedules
# change); entries 0 and -1 are always the extremes 0 and 2**31 - 1.
STEPS = hnp.arrays(np.int32, N, elements=st.integers(0, TOP) | st.integers(0, 4 * 10**6)).map(
    _with_extremes
)
FRACS = hnp.arrays(np.float64, N, elements=FRAC)


@dataclasses.dataclass
class Case:
    """A drawn schedule with the claims its docstring makes for the drawn values.

    ``lo``/``hi``: documented bounds, numbers or functions of the steps (None: no claim).
    ``pieces``: (first, last, sign) step ranges on which the schedule is nonincreasing
    (sign -1) or nondecreasing (+1). ``horizon``: where the interesting steps are.
    ``scale``: magnitude of the values, for the float32 slack.
    """

    schedule: S.Schedule
    lo: Any = None
    hi: Any = None
    pieces: tuple = ()
    horizon: float = 1.0
    scale: float = 1.0


def _bound(b, steps):
    return b(steps) if callable(b) else b


FAMILIES: dict[str, Callable[..., st.SearchStrategy[Case]]] = {}


def family(fn):
    FAMILIES[fn.__name__] = st.composite(fn)
    return fn


@family
def constant(draw, mono=False):
    value = draw(floats(0.0, 10.0))  # rates are >= 0: a negative one is refused
    return Case(S.constant(value), value, value, ((0, TOP, -1), (0, TOP, 1)), scale=value)


@family
def step_decay(draw, mono=False):
    init, factor, every = draw(PEAK), draw(FRAC), draw(COUNT)
    return Case(S.step_decay(init, factor, every), 0.0, init, ((0, TOP, -1),), every * 8, init)


@family
def multi_step(draw, mono=False):
    init, factor = draw(PEAK), draw(FRAC)
    milestones = sorted(
        draw(st.lists(st.integers(0, 4 * 10**6) | st.integers(0, TOP), min_size=4, max_size=4))
    )
    s = S.multi_step(init, np.asarray(milestones, np.int32), factor)
    return Case(s, 0.0, init, ((0, TOP, -1),), 4 * 10**6, init)


@family
def piecewise_constant(draw, mono=False):
    boundaries = sorted(draw(st.lists(st.integers(0, 4 * 10**6), min_size=3, max_size=3)))
    values = draw(st.lists(floats(0.0, 10.0), min_size=4, max_size=4))
    side = draw(st.sampled_from(["left", "right"]))
    s = S.piecewise_constant(np.asarray(boundaries, np.int32), np.asarray(values, np.float32), side)
    return Case(s, min(values), max(values), scale=max(map(abs, values)))


@family
def piecewise_interpolate(draw, mono=False):
    knots = sorted(draw(st.lists(floats(0.0, 4e6), min_size=4, max_size=4)))
    values = draw(st.lists(PEAK, min_size=4, max_size=4))
    shape = draw(st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]))
    s = S.piecewise_interpolate(
        np.asarray(knots, np.float32), np.asarray(values, np.float32), shape
    )
    return Case(s, min(values), max(values), horizon=4e6, scale=max(values))


@family
def exponential_decay(draw, mono=False):
    init, steps, begin = draw(PEAK), draw(COUNT), draw(BEGIN)
    staircase = draw(st.booleans())
    if mono or draw(st.booleans()):  # decaying: rate <= 1, `end` a floor
        rate = draw(FRAC)
        end = draw(st.none() | FRAC.map(lambda f: f * init))
        lo, hi, pieces = end or 0.0, init, ((0, TOP, -1),)
    else:  # growing without bound by design: needs `end` as a ceiling
        rate = draw(floats(1.0, 10.0))
        end = draw(floats(1.0, 1e3)) * init
        lo, hi, pieces = init, end, ((0, TOP, 1),)
    s = S.exponential_decay(init, rate, steps, begin, end, staircase)
    return Case(s, lo, hi, pieces, begin + 20 * steps, max(init, hi))


@family
def natural_exp_decay(draw, mono=False):
    init, steps, begin = draw(PEAK), draw(COUNT), draw(BEGIN)
    staircase = draw(st.booleans())
    if mono or draw(st.booleans()):
        decay = draw(floats(0.0, 20.0))
        end = draw(st.none() | FRAC.map(lambda f: f * init))
        lo, hi, pieces = end or 0.0, init, ((0, TOP, -1),)
    else:
        decay = -draw(floats(0.0, 20.0))
        end = draw(floats(1.0, 1e3)) * init
        lo, hi, pieces = init, end, ((0, TOP, 1),)
    s = S.natural_exp_decay(init, decay, steps, begin, end, staircase)
    return Case(s, lo, hi, pieces, begin + 20 * steps, max(init, hi))


@family
def inverse_time_decay(draw, mono=False):
    init, rate, steps, begin = draw(PEAK), draw(floats(0.0, 100.0)), draw(COUNT), draw(BEGIN)
    s = S.inverse_time_decay(init, rate, steps, begin, draw(st.booleans()))
    return Case(s, 0.0, init, ((0, TOP, -1),), begin + 100 * steps, init)


@family
def polynomial_decay(draw, mono=False):
    init, steps, begin = draw(PEAK), draw(COUNT), draw(BEGIN)
    end = draw(FRAC) * init if mono else draw(floats(0.0, 10.0))
    power = draw(st.none() | floats(0.1, 10.0))
    cycle = False if mono else draw(st.booleans())
    s = S.polynomial_decay(init, end, steps, power, begin, cycle)
    pieces = () if cycle or init < end else ((0, TOP, -1),)
    return Case(s, min(init, end), max(init, end), pieces, begin + 2 * steps, max(init, end))


@family
def linear(draw, mono=False):
    init, steps, begin = draw(PEAK), draw(COUNT), draw(BEGIN)
    end = draw(FRAC) * init if mono else draw(floats(0.0, 10.0))
    s = S.linear(init, end, steps, begin)
    pieces = ((0, TOP, -1),) if init >= end else ((0, TOP, 1),)
    return Case(s, min(init, end), max(init, end), pieces, begin + 2 * steps, max(init, end))


@family
def cosine_decay(draw, mono=False):
    peak, steps = draw(PEAK), draw(COUNT)
    final = draw(FRAC) * peak if mono else draw(floats(0.0, 10.0))
    exponent = draw(st.none() | floats(0.1, 10.0))
    periodic = False if mono else draw(st.booleans())
    s = S.cosine_decay(peak, steps, final, exponent, periodic)
    pieces = ((0, TOP, -1),) if final <= peak and not periodic else ()
    return Case(s, min(final, peak), max(final, peak), pieces, 2 * steps, max(peak, final))


@family
def tanh_decay(draw, mono=False):
    init, steps = draw(PEAK), draw(COUNT)
    final = draw(FRAC) * init if mono else draw(floats(0.0, 10.0))
    lb = draw(floats(-10.0, 5.0))
    ub = lb + draw(floats(0.1, 10.0))
    s = S.tanh_decay(init, steps, final, lb, ub)
    pieces = ((0, TOP, -1),) if final <= init else ((0, TOP, 1),)
    return Case(s, min(init, final), max(init, final), pieces, 2 * steps, max(init, final))


@family
def inverse_sqrt(draw, mono=False):
    peak, warm = draw(PEAK), draw(st.integers(0, 10**5))
    timescale = draw(st.none() | COUNT)
    init = draw(FRAC) * peak
    total = draw(st.none() | st.integers(0, 4 * 10**6))
    cooldown = 0 if total is None else draw(st.integers(0, 10**6))
    if mono and total is not None:  # the ramp is claimed only before the cool-down starts
        total += warm + cooldown + 1
    s = S.inverse_sqrt(peak, warm, timescale, init, cooldown, total)
    pieces = ((0, warm, 1), (warm, TOP, -1))
    return Case(s, 0.0, peak, pieces, 4 * 10**6, peak)


@family
def warmup_stable_decay(draw, mono=False):
    peak = draw(PEAK)
    warm, stable, decay = draw(COUNT | st.just(0)), draw(COUNT | st.just(0)), draw(COUNT)
    decay_shape = draw(st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]))
    warmup_shape = draw(st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]))
    positive = floats(1e-3, 1.0) if decay_shape == "exponential" else FRAC
    init, final = draw(FRAC) * peak, draw(positive) * peak
    s = S.warmup_stable_decay(
        peak, warm, stable, decay, init, final, decay_shape=decay_shape, warmup_shape=warmup_shape
    )
    pieces = ((0, warm, 1), (warm, TOP, -1))
    return Case(s, min(init, final), peak, pieces, warm + stable + 2 * decay, peak)


def _cycle_of(k: int, period: int, mult: int) -> tuple[int, int, int]:
    """(n, start, length) of the cycle holding step k, in exact integer arithmetic."""
    if mult == 1:
        n = k // period
        return n, n * period, period
    n, start, length = 0, 0, period
    while start + length <= k:
        n, start, length = n + 1, start + length, length * mult
    return n, start, length


@pytest.mark.parametrize("traced", [False, True])
def test_geometric_cycle_mixed_mults(traced):
    # One array of mults, some 1 (equal cycles) and some growing, in one unbatched call:
    # the walk and the plain division must each serve their own entries.
    steps = np.arange(400, dtype=np.int32)[:, None]
    mults = np.array([1, 2, 1, 3], np.int32)
    fn = jax.jit(S.geometric_cycle) if traced else S.geometric_cycle
    n, t, length = fn(steps, 7, mults)
    for j, mult in enumerate(mults):
        want = np.array([_cycle_of(int(k), 7, int(mult)) for k in steps[:, 0]])
        np.testing.assert_array_equal(n[:, j], want[:, 0])
        np.testing.assert_array_equal(t[:, j], steps[:, 0] - want[:, 1])
        np.testing.assert_array_equal(length[:, j], want[:, 2])


@family
def warm_restarts(draw, mono=False):
    peak, period, mult = draw(PEAK), draw(COUNT), draw(st.integers(1, 4))
    final = draw(FRAC) * peak
    decay = draw(FRAC)
    mode = draw(st.sampled_from(["peak", "amplitude"]))
    # optional fields set together, to bound the number of tree structures (compiles)
    limited = draw(st.booleans())
    cycles = draw(st.integers(0, 50)) if limited else None
    k_decay = draw(floats(0.1, 5.0)) if limited else None
    shape = draw(st.sampled_from([None, S.tanh_decay(1.0, 1)]))
    s = S.warm_restarts(peak, period, mult, final, decay, cycles, k_decay, shape, mode)

    def cycle_peak(n):  # the value a cycle starts from (mode "peak": peak * decay**n)
        return peak * decay**n if mode == "peak" else final + (peak - final) * decay**n

    def lo(steps):
        # mode "peak" moves from peak * decay**n toward final, which may lie above it
        ns = [_cycle_of(int(k), period, mult)[0] for k in steps]
        return np.array([min(final, cycle_peak(n)) for n in ns])

    # Monotone inside one cycle: from its start value toward final.
    n, start, length = 0, 0, period
    for _ in range(draw(st.integers(0, 6))):
        if start + length + length * mult - 1 > TOP:
            break  # keep the whole cycle inside int32
        n, start, length = n + 1, start + length, length * mult
    sign = -1 if cycle_peak(n) >= final else 1
    pieces = ((start, start + length - 1, sign),)
    return Case(s, lo, peak, pieces, length, peak)


@family
def cyclic(draw, mono=False):
    low, high = draw(floats(0.0, 10.0)), draw(floats(0.0, 10.0))
    up, down = draw(COUNT), draw(st.none() | COUNT)
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    gamma = draw(floats(0.5, 1.0))
    s = S.cyclic(low, high, up, down, gamma, mode=mode)
    return Case(s, min(low, high), max(low, high), horizon=4 * up, scale=max(low, high))


def _one_cycle_knots(pct: float, total: int) -> tuple[float, float]:
    """The peak knot p*T - 1 and the last knot T - 1, rounded as the schedule does."""
    rise = np.float32(pct) * np.float32(total)
    return float(rise - np.float32(1)), float(total - 1)


@family
def one_cycle(draw, mono=False):
    peak, total = draw(PEAK), draw(COUNT)
    pct = draw(FRAC)
    div, final_div = draw(floats(1.0, 1e3)), draw(floats(1.0, 1e5))
    anneal = draw(st.sampled_from(["cosine", "linear"]))
    three = draw(st.booleans())
    s = S.one_cycle(peak, total, pct, div, final_div, anneal=anneal, three_phase=three)
    low = peak / div / final_div
    k1, _ = _one_cycle_knots(pct, total)
    pieces = ((0, math.floor(k1), 1), (math.ceil(k1), TOP, -1)) if k1 >= 0 else ((0, TOP, -1),)
    return Case(s, low, peak, pieces, 2 * total, peak)


def _inner(draw) -> S.Schedule:
    """A positive, nonincreasing schedule to wrap."""
    peak, steps = draw(PEAK), draw(COUNT)
    which = draw(st.sampled_from(["cosine", "exponential", "linear", "constant"]))
    if which == "cosine":
        return S.cosine_decay(peak, steps, draw(FRAC) * peak)
    if which == "exponential":
        return S.exponential_decay(peak, draw(floats(0.01, 1.0)), steps)
    if which == "linear":
        return S.linear(peak, draw(floats(1e-3, 1.0)) * peak, steps)
    return S.constant(peak)


@family
def warmup(draw, mono=False):
    inner = _inner(draw)
    steps = draw(st.integers(0, 10**5))
    shape = draw(st.sampled_from(["linear", "cosine", "exponential"]))
    shift = draw(st.booleans())
    default = float(inner(0 if shift else steps))  # the default target
    target = default if mono else draw(st.none() | PEAK)
    start = draw(floats(1e-3, 1.0)) * (default if target is None else target)
    if start < 1e-30:  # a geometric ramp needs init > 0
        shape = "linear"
    s = S.warmup(inner, steps, start, target, shape, shift)
    pieces = ((0, steps, 1), (steps, TOP, -1)) if mono else ()
    return Case(s, pieces=pieces, horizon=2 * 10**6, scale=10.0)


@family
def join(draw, mono=False):
    first, second = _inner(draw), _inner(draw)
    boundary = draw(st.integers(0, 4 * 10**6))
    s = S.join([first, second], np.asarray([boundary], np.int32), restart=draw(st.booleans()))
    return Case(s, 0.0, 10.0, horizon=8 * 10**6, scale=10.0)


@family
def clip(draw, mono=False):
    inner = S.warm_restarts(draw(PEAK), draw(COUNT), draw(st.integers(1, 4)), decay=draw(FRAC))
    a, b = sorted(draw(st.lists(PEAK, min_size=2, max_size=2)))
    floor, ceiling = draw(st.none() | st.just(a)), draw(st.none() | st.just(b))
    s = S.clip(inner, floor, ceiling)
    return Case(s, -np.inf if floor is None else floor, np.inf if ceiling is None else ceiling)


@family
def scale(draw, mono=False):
    inner, factor = _inner(draw), draw(floats(0.0, 10.0))
    return Case(S.scale(inner, factor), scale=100.0)


@family
def product(draw, mono=False):
    return Case(S.product([_inner(draw), _inner(draw)]), scale=100.0)


@family
def switch(draw, mono=False):
    index = draw(st.integers(0, 1))
    return Case(S.switch(index, [_inner(draw), _inner(draw)]), scale=10.0)


@family
def random_uniform(draw, mono=False):
    low, high = sorted(draw(st.lists(PEAK, min_size=2, max_size=2)))
    key = jax.random.key(draw(st.integers(0, 2**32 - 1)))
    s = S.random_uniform(key, low, high, draw(COUNT), draw(st.booleans()))
    return Case(s, low, high, scale=high)


@family
def noise(draw, mono=False):
    inner = S.cosine_decay(draw(PEAK), draw(COUNT), draw(FRAC))
    key = jax.random.key(draw(st.integers(0, 2**32 - 1)))
    pct, std = draw(floats(1e-3, 1.0)), draw(floats(0.1, 3.0))
    start = draw(st.integers(0, 4 * 10**6))
    stop = draw(st.none() | st.integers(0, 4 * 10**6).map(lambda d: start + d))
    kind = draw(st.sampled_from(["normal", "uniform"]))
    s = S.noise(inner, key, pct, std, start, stop, kind)

    def within(steps, sign):  # schedule * (1 +/- pct) in [start, stop), unchanged outside
        on = (steps >= start) & (True if stop is None else steps < stop)
        return ev(inner, steps) * (1 + sign * np.where(on, pct, 0.0))

    def lo(steps):
        return within(steps, -1)

    def hi(steps):
        return within(steps, 1)

    return Case(s, lo, hi, scale=10.0)


BOUNDED = [
    "constant",
    "step_decay",
    "multi_step",
    "piecewise_constant",
    "piecewise_interpolate",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "linear",
    "cosine_decay",
    "tanh_decay",
    "inverse_sqrt",
    "warmup_stable_decay",
    "warm_restarts",
    "cyclic",
    "one_cycle",
    "clip",
    "random_uniform",
    "noise",
    "join",
]
MONOTONE = [
    "step_decay",
    "multi_step",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "polynomial_decay",
    "linear",
    "cosine_decay",
    "tanh_decay",
    "inverse_sqrt",
    "warmup_stable_decay",
    "warm_restarts",
    "one_cycle",
    "warmup",
]


# --------------------------------------------------------------------------------------
# 1. Finite everywhere on int32 steps, 0 and 2**31 - 1 included


@pytest.mark.parametrize("name", sorted(FAMILIES))
@SETTINGS
@given(data=st.data(), steps=STEPS)
def test_finite(name, data, steps):
    case = data.draw(FAMILIES[name](), label="case")
    values = ev(case.schedule, steps)
    assert values.shape == steps.shape
    bad = ~np.isfinite(values)
    assert not bad.any(), f"non-finite at steps {steps[bad]}: {values[bad]}"


# --------------------------------------------------------------------------------------
# 2. Documented bounds


@pytest.mark.parametrize("name", BOUNDED)
@SETTINGS
@given(data=st.data(), steps=STEPS)
def test_bounds(name, data, steps):
    case = data.draw(FAMILIES[name](), label="case")
    values = ev(case.schedule, steps)
    lo = np.broadcast_to(_bound(case.lo, steps), steps.shape).astype(np.float64)
    hi = np.broadcast_to(_bound(case.hi, steps), steps.shape).astype(np.float64)
    scale = np.maximum.reduce(
        [np.abs(np.where(np.isfinite(b), b, 0)) for b in (lo, hi)] + [np.abs(values)]
    )
    tol = RTOL * scale + ATOL
    below, above = values < lo - tol, values > hi + tol
    assert not below.any(), f"below {lo[below]} at {steps[below]}: {values[below]}"
    assert not above.any(), f"above {hi[above]} at {steps[above]}: {values[above]}"


# --------------------------------------------------------------------------------------
# 3. Monotone where claimed


def _piece_steps(first: int, last: int, fracs: np.ndarray, horizon: float) -> np.ndarray:
    """Sorted int32 steps in [first, last], both ends included; half of them within
    `horizon` of `first`, where the schedule changes most."""
    span = last - first
    near = min(span, max(2.0 * horizon, 1.0))
    half = len(fracs) // 2
    steps = np.concatenate([first + fracs[:half] * near, first + fracs[half:] * span])
    steps = np.clip(np.round(steps), first, last).astype(np.int64)
    steps[0], steps[-1] = first, last
    return np.sort(steps).astype(np.int32)


@pytest.mark.parametrize("name", MONOTONE)
@SETTINGS
@given(data=st.data(), fracs=FRACS)
def test_monotone(name, data, fracs):
    case = data.draw(FAMILIES[name](mono=True), label="case")
    assert case.pieces
    for first, last, sign in case.pieces:
        if last < first:
            continue
        steps = _piece_steps(first, last, fracs, case.horizon)
        values = ev(case.schedule, steps)
        jumps = sign * np.diff(values)  # >= 0 when the claim holds
        bad = jumps < -(RTOL * case.scale + ATOL)
        assert not bad.any(), (
            f"{'nondecreasing' if sign > 0 else 'nonincreasing'} on [{first}, {last}] fails "
            f"between steps {steps[:-1][bad]} and {steps[1:][bad]}: "
            f"{values[:-1][bad]} -> {values[1:][bad]}"
        )


@SETTINGS
@given(
    inner=st.composite(_inner)(),
    steps=st.integers(1, 10**5),
    shape=st.sampled_from(["linear", "cosine", "exponential"]),
    init_frac=floats(1e-3, 1.0),
    target=PEAK,
    fracs=FRACS,
)
def test_warmup_ramp_nondecreasing_to_explicit_target(
    inner, steps, shape, init_frac, target, fracs
):
    s = S.warmup(inner, steps, init_frac * target, target, shape)
    k = _piece_steps(0, steps - 1, fracs, steps)
    values = ev(s, k)
    assert np.all(np.diff(values) >= -RTOL * target)
    assert np.all(values <= target * (1 + RTOL))
    assert np.all(values >= init_frac * target - 4 * RTOL * target)


# --------------------------------------------------------------------------------------
# 4. Continuity at the joins


def _gain(shape: str, a: float, b: float, r: float) -> float:
    """A bound on |anneal(a, b, p, shape) - anneal(a, b, p', shape)| for |p - p'| <= r and
    p or p' at an end of [0, 1]."""
    r = min(max(r, 0.0), 1.0)
    if shape == "linear":
        return abs(b - a) * r
    if shape == "cosine":
        return abs(b - a) * math.pi / 2 * r
    if shape == "1-sqrt":
        return abs(b - a) * math.sqrt(r)
    if shape == "exponential":
        assert a > 0 and b > 0, "a geometric anneal needs positive ends"
        return max(a, b) * abs(math.log(b / a)) * r
    raise AssertionError(shape)


_EVAL_FLOAT_POINTS = 12  # float32 step arrays in the continuity tests all have this length


def _flat(length):
    """A constant segment of the given length."""
    return (length, lambda r: 0.0)


def _scale(schedule) -> float:
    """The largest magnitude among the float hyperparameters (rounding happens at that scale)."""
    leaves = [
        np.max(np.abs(np.asarray(x)))
        for x in jax.tree.leaves(schedule)
        if isinstance(x, float) or np.issubdtype(np.asarray(x).dtype, np.floating)
    ]
    return float(max(leaves, default=0.0))


def _close(got, want, scale):
    """Equal up to float32 rounding of values of magnitude `scale`."""
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * RTOL * scale + ATOL)


def _check_continuous(schedule, knots):
    """`knots`: (x, left, right) where left/right is None (that side not checked) or
    (length, gain), gain(r) bounding the change of that segment over a fraction r of its
    length away from x. Checks |s(x -/+ eps) - s(x)| <= gain(eps / length) + float32 slack
    for a small eps. Knot i's value s(x) is returned at index 4 * i."""
    points, checks = [], []
    for x, left, right in knots:
        x32 = np.float32(x)
        ulp = float(np.spacing(x32))
        for side, segment in ((-1, left), (1, right)):
            length = segment[0] if segment else 1.0
            eps = max(1e-5 * length, 4 * ulp)
            y = np.float32(float(x32) + side * eps)
            if segment is not None:
                r = abs(float(y) - float(x32)) / length
                checks.append((len(points), len(points) + 1, segment[1](r), float(x32), float(y)))
            points += [x32, y]
    assert len(points) <= _EVAL_FLOAT_POINTS
    points += [np.float32(0)] * (_EVAL_FLOAT_POINTS - len(points))
    values = ev(schedule, np.asarray(points, np.float32))
    scale = max(np.max(np.abs(values)), _scale(schedule))
    for i, j, allowed, x, y in checks:
        gap = abs(values[j] - values[i])
        assert gap <= allowed + 4 * RTOL * scale + ATOL, (
            f"jump at {x}: s({x}) = {values[i]}, s({y}) = {values[j]} (allowed {allowed})"
        )
    return values


@pytest.mark.parametrize("shift", [True, False])
@SETTINGS
@given(
    inner=st.composite(_inner)(),
    steps=st.integers(1, 10**6),
    init_frac=floats(1e-3, 2.0),
    shape=st.sampled_from(["linear", "cosine", "exponential"]),
)
def test_warmup_default_target_continuous(shift, inner, steps, init_frac, shape):
    target = float(inner(0 if shift else steps))
    init = init_frac * target
    assume(shape != "exponential" or init > 1e-30)  # a geometric ramp needs init > 0
    s = S.warmup(inner, steps, init, shape=shape, shift=shift)
    values = _check_continuous(s, [(steps, (steps, lambda r: _gain(shape, init, target, r)), None)])
    _close(values[0], target, _scale(s))


@SETTINGS
@given(
    peak=PEAK,
    warm=COUNT,
    stable=COUNT,
    decay=COUNT,
    init_frac=floats(1e-3, 1.0),
    final_frac=floats(1e-3, 1.0),
    decay_shape=st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]),
    warmup_shape=st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]),
)
def test_warmup_stable_decay_continuous(
    peak, warm, stable, decay, init_frac, final_frac, decay_shape, warmup_shape
):
    init, final = init_frac * peak, final_frac * peak
    s = S.warmup_stable_decay(
        peak, warm, stable, decay, init, final, decay_shape=decay_shape, warmup_shape=warmup_shape
    )
    up = (warm, lambda r: _gain(warmup_shape, init, peak, r))
    down = (decay, lambda r: _gain(decay_shape, peak, final, r))
    knots = [
        (warm, up, _flat(stable)),
        (warm + stable, _flat(stable), down),
        (warm + stable + decay, down, _flat(decay)),
    ]
    values = _check_continuous(s, knots)
    _close(values[[0, 4, 8]], [peak, peak, final], peak)


@SETTINGS
@given(
    peak=PEAK,
    total=st.integers(10, 10**6),
    pct=floats(0.05, 0.95),
    div=floats(1.0, 1e3),
    final_div=floats(1.0, 1e5),
    anneal=st.sampled_from(["cosine", "linear"]),
    three=st.booleans(),
)
def test_one_cycle_continuous_at_knots(peak, total, pct, div, final_div, anneal, three):
    k1, end = _one_cycle_knots(pct, total)
    k2 = 2 * k1 if three else end  # 2 * p * T - 2
    assume(k1 >= 1 and k2 - k1 >= 1 and end - k2 >= (1 if three else 0))  # knots in order
    s = S.one_cycle(peak, total, pct, div, final_div, anneal=anneal, three_phase=three)
    init = peak / div
    low = init / final_div

    def seg(length, a, b):
        return (length, lambda r: _gain(anneal, a, b, r))

    rise = seg(k1, init, peak)
    if three:
        fall, last = seg(k2 - k1, peak, init), seg(end - k2, init, low)
        knots = [(k1, rise, fall), (k2, fall, last), (end, last, _flat(total))]
        want = [peak, init, low]
    else:
        fall = seg(end - k1, peak, low)
        knots = [(k1, rise, fall), (end, fall, _flat(total))]
        want = [peak, low]
    values = _check_continuous(s, knots)
    _close(values[0 : 4 * len(want) : 4], want, peak)


@FEW
@given(peak=PEAK, total=COUNT, pct=FRAC, three=st.booleans())
@example(peak=1.0, total=100, pct=0.8, three=True)  # a late three-phase peak (knots unsorted)
def test_one_cycle_holds_min_after_last_knot(peak, total, pct, three):
    """The docstring's "holds min after T - 1", for every pct_start. Regression: three phases
    with pct_start > (T + 1) / (2T) used to hold init instead, e.g. one_cycle(1.0, 100,
    pct_start=0.8, three_phase=True)(150) was 0.04, not min = 4e-06 (fixed in 76d953a)."""
    s = S.one_cycle(peak, total, pct, three_phase=three)
    low = peak / 25.0 / 1e4
    steps = np.asarray([total, total + 1, 2 * total, 4 * total, TOP] * 6 + [total, total], np.int32)
    _close(ev(s, steps), low, peak)


@SETTINGS
@given(
    knots=st.lists(floats(1.0, 1e5), min_size=3, max_size=3),
    start=floats(0.0, 1e5),
    values=st.lists(PEAK, min_size=4, max_size=4),
    shape=st.sampled_from(["linear", "cosine", "exponential", "1-sqrt"]),
)
def test_piecewise_interpolate_continuous_at_knots(knots, start, values, shape):
    # strictly increasing knots: start + cumulative positive gaps
    b = np.float32(start) + np.cumsum(np.asarray([0.0, *knots], np.float32))
    s = S.piecewise_interpolate(b, np.asarray(values, np.float32), shape)
    segments = [
        (float(b[i + 1] - b[i]), (lambda r, i=i: _gain(shape, values[i], values[i + 1], r)))
        for i in range(3)
    ]
    out = [(float(b[0]), _flat(1.0), segments[0])]
    out += [(float(b[i]), segments[i - 1], segments[i]) for i in (1, 2)]
    out += [(float(b[3]), segments[2], _flat(1.0))]
    got = _check_continuous(s, out[:3])
    _close(got[0:12:4], values[:3], max(values))
    got = _check_continuous(s, out[3:])
    _close(got[0], values[3], max(values))


@pytest.mark.parametrize("name", ["cosine_decay", "warm_restarts", "one_cycle", "cyclic"])
@FEW
@given(data=st.data(), steps=STEPS)
def test_join_without_restart_of_itself_is_itself(name, data, steps):
    s = data.draw(FAMILIES[name](), label="case").schedule
    boundaries = sorted(
        data.draw(st.lists(st.integers(0, 4 * 10**6), min_size=2, max_size=2), label="boundaries")
    )
    joined = S.join([s, s, s], np.asarray(boundaries, np.int32), restart=False)
    np.testing.assert_array_equal(ev(joined, steps), ev(s, steps))


# --------------------------------------------------------------------------------------
# 5. geometric_cycle: exact integer arithmetic up to 2**31 - 1

_GEOMETRIC_CYCLE = jax.jit(S.geometric_cycle)


@SETTINGS
@given(
    period=st.integers(1, 10**6) | st.integers(1, TOP),
    mult=st.integers(1, 10) | st.integers(1, 1000),
    steps=STEPS,
)
@example(period=2**30 + 1, mult=2, steps=_with_extremes(np.arange(N) + 2**30 - 2))
@example(period=TOP, mult=2, steps=_with_extremes(np.arange(N) + TOP - N))
@example(period=1, mult=1, steps=_with_extremes(np.arange(N)))
@example(period=1, mult=2, steps=_with_extremes(2 ** np.arange(N) - 1))
def test_geometric_cycle_is_exact(period, mult, steps):
    n, t, length = (
        np.asarray(a)
        for a in _GEOMETRIC_CYCLE(jnp.asarray(steps), jnp.int32(period), jnp.int32(mult))
    )
    assert n.dtype == np.int32 and t.dtype == np.int32 and length.dtype == np.int32
    for k, n_k, t_k, len_k in zip(
        steps.tolist(), n.tolist(), t.tolist(), length.tolist(), strict=True
    ):
        want_n, want_start, want_len = _cycle_of(k, period, mult)
        assert (n_k, k - t_k) == (want_n, want_start), (k, n_k, t_k, len_k)
        # cycle n starts at period * (mult**n - 1) / (mult - 1), or n * period
        closed = n_k * period if mult == 1 else period * (mult**n_k - 1) // (mult - 1)
        assert k - t_k == closed
        # lengths are exact while they fit in int32 and saturate at 2**31 - 1 beyond
        assert want_len == period * mult**n_k
        assert len_k == min(want_len, TOP), (k, n_k, len_k, want_len)
        assert 0 <= t_k < want_len and t_k < len_k


# --------------------------------------------------------------------------------------
# 6. A vmapped batch of schedules equals evaluating each on its own

VMAPPED = {
    "cosine_decay.peak": (lambda p: S.cosine_decay(p, 1000, final=1e-3), PEAK, np.float32),
    "exponential_decay.rate": (
        lambda r: S.exponential_decay(2.0, r, 100, end=1e-3),
        floats(0.01, 1.0),
        np.float32,
    ),
    "warm_restarts.period": (
        lambda p: S.warm_restarts(1.0, p, mult=2, final=0.01, decay=0.5),
        COUNT,
        np.int32,
    ),
    "one_cycle.total_steps": (lambda t: S.one_cycle(1.0, t, three_phase=True), COUNT, np.int32),
    "warmup_stable_decay.warmup_steps": (
        lambda w: S.warmup_stable_decay(1.0, w, 5000, 20000, decay_shape="1-sqrt"),
        COUNT,
        np.int32,
    ),
}


# jax.vmap(lambda s: s(steps))(batch), jitted so that a batch size compiles once
_EVAL_BATCH = jax.jit(jax.vmap(lambda schedule, step: schedule(step), in_axes=(0, None)))


@pytest.mark.parametrize("name", list(VMAPPED))
@FEW
@given(data=st.data(), steps=STEPS)
def test_vmap_equals_loop(name, data, steps):
    ctor, strategy, dtype = VMAPPED[name]
    params = data.draw(st.lists(strategy, min_size=1, max_size=4), label="params")
    values = jnp.asarray(params, dtype)
    batch = jax.vmap(ctor)(values)
    got = np.asarray(_EVAL_BATCH(batch, jnp.asarray(steps)))
    assert got.shape == (len(params), N)
    # each member built from the same float32/int32 scalar as the batch holds
    want = np.stack([ev(ctor(p), steps) for p in values])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


# --------------------------------------------------------------------------------------
# Growing exponentials bounded by `end`: a zero `init` stays 0


@FEW
@given(
    rate=floats(1.5, 10.0),
    end=floats(0.0, 10.0),
    natural=st.booleans(),
    steps=STEPS,
)
@example(rate=2.0, end=1.0, natural=False, steps=_with_extremes(np.arange(N) * 1000))
def test_growing_exponential_with_zero_init_is_finite(rate, end, natural, steps):
    """A zero init stays 0 however far rate**p overflows. Regression: init * rate**p was
    0 * inf = NaN, and the `end` ceiling kept the NaN: exponential_decay(0.0, 2.0,
    end=1.0)(1000) and natural_exp_decay(0.0, -1.0, end=1.0)(1000) were nan (fixed in 76d953a)."""
    if natural:
        s = S.natural_exp_decay(0.0, -math.log(rate), end=end)
    else:
        s = S.exponential_decay(0.0, rate, end=end)
    np.testing.assert_array_equal(ev(s, steps), 0.0)
