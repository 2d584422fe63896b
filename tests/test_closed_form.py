"""Closed-form checks of every native schedule in `lrjax.schedules`.

Each schedule is compared with a reference written here from its docstring alone: plain
Python scalars in float64 (the `math` module), one step at a time, with cycle starts walked
in exact arithmetic. Nothing here calls lrjax to compute an expected value, except where
a schedule is documented in terms of another one (``noise`` leaves the clean schedule
unchanged outside its window).

Every configuration runs eagerly under ``jax.enable_x64`` against the reference to float64
round-off; one or more configurations per schedule also run through ``jax.jit`` in the
default float32 mode, to float32 round-off. Step arrays share one length so that cases
reuse compiled kernels. The random schedules (``random_uniform``, ``noise``) are checked
for determinism, blocking and range.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax.schedules as S

BIG = (10**6, 2**31 - 1)
NEGATIVE = (-7, -1)
RANGE = 400
LENGTH = 448


# --------------------------------------------------------------------------------------
# Scalar references, written from the docstrings. `k` is already clamped to k >= 0.
# --------------------------------------------------------------------------------------


def _pow(base, exponent):
    try:
        return base**exponent
    except OverflowError:
        return math.inf


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def ref_anneal(start, end, pct, shape):
    if shape == "linear":
        return start + (end - start) * pct
    if shape == "cosine":
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
    if shape == "exponential":
        return 0.0 if start == 0 else start * (end / start) ** pct
    if shape == "1-sqrt":
        return end + (start - end) * (1 - math.sqrt(pct))
    raise AssertionError(shape)


def ref_interp(k, knots, values, shape):
    """values[0] before the first knot, values[-1] after the last; in between, segment i is
    the first whose end knot is >= k."""
    if k <= knots[0]:
        return values[0]
    for i in range(len(knots) - 1):
        lo, hi = knots[i], knots[i + 1]
        if k <= hi:
            pct = 1.0 if hi == lo else (k - lo) / (hi - lo)
            return ref_anneal(values[i], values[i + 1], pct, shape)
    return values[-1]


def ref_constant(k, value):
    return value


def ref_step_decay(k, init, factor, every):
    n = k // every if isinstance(every, int) else math.floor(k / every)
    return init * factor**n


def ref_multi_step(k, init, milestones, factor):
    return init * factor ** sum(1 for m in milestones if m <= k)


def ref_piecewise_constant(k, boundaries, values, side="right"):
    if side == "right":
        return values[sum(1 for b in boundaries if k >= b)]
    return values[sum(1 for b in boundaries if k > b)]


def _progress(k, begin, steps, staircase):
    t = max(k - begin, 0)
    return t // steps if staircase else t / steps


def ref_exponential_decay(k, init, rate, steps=1, begin=0, end=None, staircase=False):
    value = init * _pow(rate, _progress(k, begin, steps, staircase))
    if end is None:
        return value
    return max(value, end) if rate < 1 else min(value, end)


def ref_natural_exp_decay(k, init, decay, steps=1, begin=0, end=None, staircase=False):
    value = init * _exp(-decay * _progress(k, begin, steps, staircase))
    if end is None:
        return value
    return max(value, end) if decay > 0 else min(value, end)


def ref_inverse_time_decay(k, init, rate=1.0, steps=1, begin=0, staircase=False):
    return init / (1 + rate * _progress(k, begin, steps, staircase))


def ref_polynomial_decay(k, init, end, steps, power=1.0, begin=0, cycle=False):
    t = max(k - begin, 0)
    if cycle:
        horizon = steps * max(1, math.ceil(t / steps))
        return (init - end) * (1 - t / horizon) ** power + end
    return (init - end) * (1 - min(t, steps) / steps) ** power + end


def ref_linear(k, init, end, steps, begin=0):
    t = max(k - begin, 0)
    return init + (end - init) * min(t, steps) / steps


def ref_cosine_decay(k, peak, decay_steps, final=0.0, exponent=1.0, periodic=False):
    frac = k / decay_steps if periodic else min(k, decay_steps) / decay_steps
    c = (1 + math.cos(math.pi * frac)) / 2
    return final + (peak - final) * c**exponent


def ref_tanh_decay(k, init, steps, final=0.0, lb=-7.0, ub=3.0):
    x = min(k / steps, 1)
    return final + (init - final) * (1 - math.tanh(lb * (1 - x) + ub * x)) / 2


def ref_inverse_sqrt(k, peak, warmup=0, timescale=None, init=0.0, cooldown=0, total=None):
    scale_ = max(warmup, 1) if timescale is None else timescale
    if k < warmup:
        value = init + (peak - init) * k / warmup
    else:
        value = peak / math.sqrt(1 + (k - warmup) / scale_)
    if total is None:
        return value
    if cooldown > 0:
        return value * min(max((total - k) / cooldown, 0), 1)
    return value if k < total else 0.0


def ref_wsd(k, peak, w, s, d, init=0.0, final=0.0, decay_shape="linear", warmup_shape="linear"):
    if k < w:
        return ref_anneal(init, peak, k / w, warmup_shape)
    if k < w + s:
        return peak
    pct = 1.0 if d == 0 else min((k - w - s) / d, 1)
    return ref_anneal(peak, final, pct, decay_shape)


def ref_cycle(k, period, mult):
    """(n, t, length) for step k: walk the cycle starts exactly (Fractions), never a log."""
    if mult == 1:
        n, t = divmod(k, period)
        return n, Fraction(t), Fraction(period)
    n, start, length, mult = 0, Fraction(0), Fraction(period), Fraction(mult)
    while start + length <= k:
        start, length, n = start + length, length * mult, n + 1
    return n, k - start, length


def unit_cosine(x):
    return (1 + math.cos(math.pi * x)) / 2


def ref_warm_restarts(
    k,
    peak,
    period,
    mult=1,
    final=0.0,
    decay=1.0,
    cycles=None,
    k_decay=1.0,
    unit=unit_cosine,
    mode="peak",
):
    n, t, length = ref_cycle(k, period, mult)
    if cycles is not None and n >= cycles:
        return final
    x = float(t / length) ** k_decay
    if mode == "peak":
        return final + (peak * decay**n - final) * unit(x)
    return final + (peak - final) * decay**n * unit(x)


def ref_cyclic(k, low, high, up, down=None, gamma=1.0, mode="triangular", fn=None, fn_mode="cycle"):
    down = up if down is None else down
    total = up + down
    cycle, p = divmod(k, total)
    s = p / up if p <= up else (total - p) / down
    if fn is not None:
        scale_ = fn(float(cycle + 1) if fn_mode == "cycle" else float(k))
    elif mode == "triangular":
        scale_ = 1.0
    elif mode == "triangular2":
        scale_ = 1 / 2**cycle
    else:
        scale_ = gamma**k
    return low + (high - low) * s * scale_


def ref_cyclic_momentum(k, base_m, max_m, *args, **kwargs):
    unit = ref_cyclic(k, 0.0, 1.0, *args, **kwargs)  # s * scale
    return max_m - (max_m - base_m) * unit


def ref_one_cycle(k, peak, total, pct=0.3, div=25.0, final_div=1e4, shape="cosine", three=False):
    init = peak / div
    low = init / final_div
    rise = pct * total
    if three:
        knots, values = (0, rise - 1, 2 * rise - 2, total - 1), (init, peak, init, low)
    else:
        knots, values = (0, rise - 1, total - 1), (init, peak, low)
    return ref_interp(k, knots, values, shape)


def ref_one_cycle_momentum(k, total, pct=0.3, base=0.85, top=0.95, shape="cosine", three=False):
    rise = pct * total
    if three:
        knots, values = (0, rise - 1, 2 * rise - 2, total - 1), (top, base, top, top)
    else:
        knots, values = (0, rise - 1, total - 1), (top, base, top)
    return ref_interp(k, knots, values, shape)


def ref_warmup(k, child, steps, init=0.0, target=None, shape="linear", shift=True):
    if target is None:
        target = child(0 if shift else steps)
    if k < steps:
        return ref_anneal(init, target, k / steps, shape)
    return child(k - steps if shift else k)


def ref_join(k, children, boundaries, restart=True):
    restart = (restart,) * len(children) if isinstance(restart, bool) else restart
    i = sum(1 for b in boundaries if k >= b)
    start = 0 if i == 0 else boundaries[i - 1]
    return children[i](k - start if restart[i] else k)


def ref_clip(k, child, floor=None, ceiling=None):
    value = child(k)
    if ceiling is not None:
        value = min(value, ceiling)
    if floor is not None:
        value = max(value, floor)
    return value


def ref_multiplicative(k, init, factor):
    acc = init
    for j in range(1, k + 1):
        acc *= factor(j)
    return acc


# User functions handed to schedules (static fields: module level, so one object each).
# They use only arithmetic, so the same function serves the reference on Python floats.


def scale_by_cycle(x):
    return 1 / (1 + 0.5 * (x - 1))


def scale_by_step(x):
    return 1 / (1 + 0.01 * x)


def harmonic(k, a, b):
    return a / (1 + b * k)


def halving(k):
    return 0.1 * 0.5 ** (k // 7)


def slow_factor(j):
    return 1 - 0.5 / (j + 10)


def const_factor(j):
    return 0.99


def tanh_unit(x):
    """tanh_decay(1.0, 1, 0.0, -6.0, 4.0) on x in [0, 1]."""
    return ref_tanh_decay(x, 1.0, 1, 0.0, -6.0, 4.0)


def square_unit(x):
    """polynomial_decay(1.0, 0.0, 1, 2.0) on x in [0, 1]."""
    return ref_polynomial_decay(x, 1.0, 0.0, 1, 2.0)


# --------------------------------------------------------------------------------------
# Cases: (build, reference, edge steps, whether steps up to 2**31 - 1 are meaningful).
# `build` runs inside the dtype context so that list hyperparameters get its dtypes.
# --------------------------------------------------------------------------------------


def case(name, build, ref, edges=(), big=True, marks=()):
    return pytest.param(build, ref, tuple(edges), big, id=name, marks=marks)


def around(*points):
    """Each point and its neighbours."""
    return [q for p in points for q in (p - 1, p, p + 1)]


DECAY = [
    case("constant", lambda: S.constant(0.3), partial(ref_constant, value=0.3)),
    case("constant-zero", lambda: S.constant(0.0), partial(ref_constant, value=0.0)),
    case(
        "step_decay",
        lambda: S.step_decay(0.1, 0.5, 30),
        partial(ref_step_decay, init=0.1, factor=0.5, every=30),
        around(30, 60, 390),
    ),
    case(
        "step_decay-factor0.9",
        lambda: S.step_decay(2.0, 0.9, 7),
        partial(ref_step_decay, init=2.0, factor=0.9, every=7),
        around(7, 14, 700),
    ),
    case(
        "step_decay-float-every",
        lambda: S.step_decay(1.0, 0.8, 2.5),
        partial(ref_step_decay, init=1.0, factor=0.8, every=2.5),
        [2, 3, 5, 7, 8, 10, 2500],
    ),
    case(
        "multi_step",
        lambda: S.multi_step(0.1, [30, 80, 200], 0.1),
        partial(ref_multi_step, init=0.1, milestones=[30, 80, 200], factor=0.1),
        around(30, 80, 200),
    ),
    case(
        "multi_step-duplicated",
        lambda: S.multi_step(1.0, [50, 50, 120], 0.5),
        partial(ref_multi_step, init=1.0, milestones=[50, 50, 120], factor=0.5),
        around(50, 120),
    ),
    case(
        "multi_step-milestone0",
        lambda: S.multi_step(1.0, [0, 10, 10, 300], 0.3),
        partial(ref_multi_step, init=1.0, milestones=[0, 10, 10, 300], factor=0.3),
        around(1, 10, 300),
    ),
    case(
        "piecewise_constant-right",
        lambda: S.piecewise_constant([10, 50, 50, 200], [1.0, 0.5, 0.2, 0.1, 0.01]),
        partial(
            ref_piecewise_constant, boundaries=[10, 50, 50, 200], values=[1.0, 0.5, 0.2, 0.1, 0.01]
        ),
        around(10, 50, 200),
    ),
    case(
        "piecewise_constant-left",
        lambda: S.piecewise_constant([0, 10, 200], [1.0, 0.5, 0.2, 0.1], side="left"),
        partial(
            ref_piecewise_constant,
            boundaries=[0, 10, 200],
            values=[1.0, 0.5, 0.2, 0.1],
            side="left",
        ),
        around(1, 10, 200),
    ),
]

KNOTS = [2.5, 10.25, 10.25, 60.0, 250.75]
KNOT_VALUES = [0.05, 1.0, 0.8, 0.4, 0.001]
for _shape in ("linear", "cosine", "exponential", "1-sqrt"):
    DECAY.append(
        case(
            f"piecewise_interpolate-{_shape}",
            partial(S.piecewise_interpolate, KNOTS, KNOT_VALUES, _shape),
            partial(ref_interp, knots=KNOTS, values=KNOT_VALUES, shape=_shape),
            [0, 1, 2, 3, 10, 11, 59, 60, 61, 250, 251, 252],
        )
    )
DECAY += [
    case(
        "piecewise_interpolate-integer-knots",
        lambda: S.piecewise_interpolate([20, 100, 300], [0.0, 1.0, 0.1], "linear"),
        partial(ref_interp, knots=[20, 100, 300], values=[0.0, 1.0, 0.1], shape="linear"),
        around(20, 100, 300),
    ),
    case(
        "exponential_decay",
        lambda: S.exponential_decay(1.0, 0.5, 100),
        partial(ref_exponential_decay, init=1.0, rate=0.5, steps=100),
        around(100, 200),
    ),
    case(
        "exponential_decay-per-step",
        lambda: S.exponential_decay(0.3, 0.99),
        partial(ref_exponential_decay, init=0.3, rate=0.99),
    ),
    case(
        "exponential_decay-staircase",
        lambda: S.exponential_decay(1.0, 0.7, 30, staircase=True),
        partial(ref_exponential_decay, init=1.0, rate=0.7, steps=30, staircase=True),
        around(30, 60),
    ),
    case(
        "exponential_decay-begin",
        lambda: S.exponential_decay(0.8, 0.9, 20, begin=50),
        partial(ref_exponential_decay, init=0.8, rate=0.9, steps=20, begin=50),
        around(50, 70),
    ),
    case(
        "exponential_decay-staircase-begin",
        lambda: S.exponential_decay(0.8, 0.6, 25, begin=40, staircase=True),
        partial(ref_exponential_decay, init=0.8, rate=0.6, steps=25, begin=40, staircase=True),
        around(40, 65, 90),
    ),
    case(
        "exponential_decay-floor",
        lambda: S.exponential_decay(1.0, 0.5, 40, end=0.1),
        partial(ref_exponential_decay, init=1.0, rate=0.5, steps=40, end=0.1),
        [132, 133, 134],
    ),
    case(
        "exponential_decay-ceiling",
        lambda: S.exponential_decay(0.01, 2.0, 50, begin=10, end=0.5),
        partial(ref_exponential_decay, init=0.01, rate=2.0, steps=50, begin=10, end=0.5),
        [291, 292, 293],
    ),
    case(
        "exponential_decay-growth-unbounded",
        lambda: S.exponential_decay(1e-3, 1.02),
        partial(ref_exponential_decay, init=1e-3, rate=1.02),
    ),
    case(
        "natural_exp_decay",
        lambda: S.natural_exp_decay(1.0, 0.5, 40),
        partial(ref_natural_exp_decay, init=1.0, decay=0.5, steps=40),
        around(40, 80),
    ),
    case(
        "natural_exp_decay-staircase-begin",
        lambda: S.natural_exp_decay(0.5, 0.3, 30, begin=20, staircase=True),
        partial(ref_natural_exp_decay, init=0.5, decay=0.3, steps=30, begin=20, staircase=True),
        around(20, 50, 80),
    ),
    case(
        "natural_exp_decay-floor",
        lambda: S.natural_exp_decay(1.0, 1.0, 50, end=0.05),
        partial(ref_natural_exp_decay, init=1.0, decay=1.0, steps=50, end=0.05),
        [149, 150, 151],
    ),
    case(
        "natural_exp_decay-ceiling",
        lambda: S.natural_exp_decay(0.01, -0.5, 20, begin=5, end=1.0),
        partial(ref_natural_exp_decay, init=0.01, decay=-0.5, steps=20, begin=5, end=1.0),
        [188, 189, 190],
    ),
    case(
        "inverse_time_decay-defaults",
        lambda: S.inverse_time_decay(0.5),
        lambda k: 0.5 / (k + 1),
    ),
    case(
        "inverse_time_decay",
        lambda: S.inverse_time_decay(0.1, 0.5, 10),
        partial(ref_inverse_time_decay, init=0.1, rate=0.5, steps=10),
    ),
    case(
        "inverse_time_decay-staircase-begin",
        lambda: S.inverse_time_decay(1.0, 2.0, 25, begin=30, staircase=True),
        partial(ref_inverse_time_decay, init=1.0, rate=2.0, steps=25, begin=30, staircase=True),
        around(30, 55, 80),
    ),
    case(
        "polynomial_decay-linear",
        lambda: S.polynomial_decay(1.0, 0.01, 200),
        partial(ref_polynomial_decay, init=1.0, end=0.01, steps=200),
        around(200),
    ),
    case(
        "polynomial_decay-power2",
        lambda: S.polynomial_decay(0.5, 0.0, 150, 2.0),
        partial(ref_polynomial_decay, init=0.5, end=0.0, steps=150, power=2.0),
        around(150),
    ),
    case(
        "polynomial_decay-sqrt-begin",
        lambda: S.polynomial_decay(0.2, 0.05, 100, 0.5, begin=60),
        partial(ref_polynomial_decay, init=0.2, end=0.05, steps=100, power=0.5, begin=60),
        around(60, 160),
    ),
    case(
        "polynomial_decay-increasing",
        lambda: S.polynomial_decay(0.0, 1.0, 120, 3.0),
        partial(ref_polynomial_decay, init=0.0, end=1.0, steps=120, power=3.0),
        around(120),
    ),
    case(
        "polynomial_decay-cycle",
        lambda: S.polynomial_decay(1.0, 0.1, 50, 1.0, cycle=True),
        partial(ref_polynomial_decay, init=1.0, end=0.1, steps=50, power=1.0, cycle=True),
        around(50, 100, 150),
    ),
    case(
        "polynomial_decay-cycle-power2-begin",
        lambda: S.polynomial_decay(0.5, 0.0, 40, 2.0, begin=15, cycle=True),
        partial(ref_polynomial_decay, init=0.5, end=0.0, steps=40, power=2.0, begin=15, cycle=True),
        around(15, 55, 95),
    ),
    case(
        "linear-decreasing",
        lambda: S.linear(1.0, 0.1, 300),
        partial(ref_linear, init=1.0, end=0.1, steps=300),
        around(300),
    ),
    case(
        "linear-increasing-begin",
        lambda: S.linear(0.0, 0.4, 64, begin=100),
        partial(ref_linear, init=0.0, end=0.4, steps=64, begin=100),
        around(100, 164),
    ),
    case(
        "cosine_decay",
        lambda: S.cosine_decay(1.0, 300),
        partial(ref_cosine_decay, peak=1.0, decay_steps=300),
        around(150, 300),
    ),
    case(
        "cosine_decay-final",
        lambda: S.cosine_decay(0.1, 250, final=0.01),
        partial(ref_cosine_decay, peak=0.1, decay_steps=250, final=0.01),
        around(250),
    ),
    case(
        "cosine_decay-alpha",
        lambda: S.cosine_decay(0.5, 200, alpha=0.1),
        partial(ref_cosine_decay, peak=0.5, decay_steps=200, final=0.05),
        around(200),
    ),
    case(
        "cosine_decay-exponent",
        lambda: S.cosine_decay(1.0, 180, final=0.1, exponent=2.5),
        partial(ref_cosine_decay, peak=1.0, decay_steps=180, final=0.1, exponent=2.5),
        around(180),
    ),
    case(
        "cosine_decay-periodic",
        lambda: S.cosine_decay(1.0, 100, final=0.2, periodic=True),
        partial(ref_cosine_decay, peak=1.0, decay_steps=100, final=0.2, periodic=True),
        around(100, 200, 300, 1000),
        big=False,
    ),
    case(
        "tanh_decay",
        lambda: S.tanh_decay(1.0, 200),
        partial(ref_tanh_decay, init=1.0, steps=200),
        around(200),
    ),
    case(
        "tanh_decay-bounds",
        lambda: S.tanh_decay(0.5, 150, 0.05, -6.0, 4.0),
        partial(ref_tanh_decay, init=0.5, steps=150, final=0.05, lb=-6.0, ub=4.0),
        around(150),
    ),
    case(
        "inverse_sqrt-warmup",
        lambda: S.inverse_sqrt(1.0, 40),
        partial(ref_inverse_sqrt, peak=1.0, warmup=40),
        around(40),
    ),
    case(
        "inverse_sqrt-vaswani",
        lambda: S.inverse_sqrt(0.5, 25),
        lambda k: 0.5 * k / 25 if k < 25 else 0.5 * math.sqrt(25 / k),
        around(25),
    ),
    case(
        "inverse_sqrt-no-warmup",
        lambda: S.inverse_sqrt(0.3),
        lambda k: 0.3 / math.sqrt(1 + k),
    ),
    case(
        "inverse_sqrt-timescale-init",
        lambda: S.inverse_sqrt(1.0, 30, timescale=100.0, init=0.1),
        partial(ref_inverse_sqrt, peak=1.0, warmup=30, timescale=100.0, init=0.1),
        around(30),
    ),
    case(
        "inverse_sqrt-cooldown",
        lambda: S.inverse_sqrt(1.0, 20, cooldown_steps=50, total_steps=300),
        partial(ref_inverse_sqrt, peak=1.0, warmup=20, cooldown=50, total=300),
        around(250, 300),
    ),
    case(
        "inverse_sqrt-cooldown0",
        lambda: S.inverse_sqrt(1.0, 20, cooldown_steps=0, total_steps=300),
        partial(ref_inverse_sqrt, peak=1.0, warmup=20, cooldown=0, total=300),
        around(300),
    ),
    case(
        "inverse_sqrt-total-no-cooldown-arg",
        lambda: S.inverse_sqrt(0.4, 0, timescale=10.0, total_steps=350),
        partial(ref_inverse_sqrt, peak=0.4, timescale=10.0, total=350),
        around(350),
    ),
]

for _shape in ("linear", "cosine", "1-sqrt", "exponential"):
    DECAY.append(
        case(
            f"warmup_stable_decay-{_shape}",
            partial(S.warmup_stable_decay, 1.0, 50, 150, 120, 0.0, 0.01, _shape),
            partial(ref_wsd, peak=1.0, w=50, s=150, d=120, final=0.01, decay_shape=_shape),
            around(50, 200, 320),
        )
    )
for _shape in ("cosine", "exponential", "1-sqrt"):
    DECAY.append(
        case(
            f"warmup_stable_decay-warmup-{_shape}",
            partial(S.warmup_stable_decay, 0.5, 60, 100, 200, 0.005, 0.02, "cosine", _shape),
            partial(
                ref_wsd,
                peak=0.5,
                w=60,
                s=100,
                d=200,
                init=0.005,
                final=0.02,
                decay_shape="cosine",
                warmup_shape=_shape,
            ),
            around(60, 160, 360),
        )
    )
DECAY += [
    case(
        "warmup_stable_decay-no-warmup-no-decay-steps",
        lambda: S.warmup_stable_decay(0.3, 0, 100, 0, final=0.03),
        partial(ref_wsd, peak=0.3, w=0, s=100, d=0, final=0.03),
        around(100),
    ),
    case(
        "warmup_stable_decay-zero-init-exponential-warmup",
        lambda: S.warmup_stable_decay(0.3, 20, 10, 40, warmup_shape="exponential"),
        partial(ref_wsd, peak=0.3, w=20, s=10, d=40, warmup_shape="exponential"),
        around(20, 30, 70),
    ),
]


RESTARTS = [
    case(
        "warm_restarts-mult1",
        lambda: S.warm_restarts(1.0, 50),
        partial(ref_warm_restarts, peak=1.0, period=50),
        around(50, 100, 350),
    ),
    case(
        "warm_restarts-mult1-final-decay-peak",
        lambda: S.warm_restarts(1.0, 40, final=0.1, decay=0.8),
        partial(ref_warm_restarts, peak=1.0, period=40, final=0.1, decay=0.8),
        around(40, 80, 120),
    ),
    case(
        "warm_restarts-mult1-final-decay-amplitude",
        lambda: S.warm_restarts(1.0, 40, final=0.1, decay=0.8, decay_mode="amplitude"),
        partial(ref_warm_restarts, peak=1.0, period=40, final=0.1, decay=0.8, mode="amplitude"),
        around(40, 80, 120),
    ),
    case(
        "warm_restarts-mult2",
        lambda: S.warm_restarts(0.5, 10, 2, final=0.01),
        partial(ref_warm_restarts, peak=0.5, period=10, mult=2, final=0.01),
        around(10, 30, 70, 150, 310, 630, 10 * (2**20 - 1)),
    ),
    case(
        "warm_restarts-mult3-decay-peak",
        lambda: S.warm_restarts(1.0, 7, 3, final=0.05, decay=0.5),
        partial(ref_warm_restarts, peak=1.0, period=7, mult=3, final=0.05, decay=0.5),
        around(7, 28, 91, 280, 847, 2548),
    ),
    case(
        "warm_restarts-mult3-decay-amplitude",
        lambda: S.warm_restarts(1.0, 7, 3, final=0.05, decay=0.5, decay_mode="amplitude"),
        partial(
            ref_warm_restarts, peak=1.0, period=7, mult=3, final=0.05, decay=0.5, mode="amplitude"
        ),
        around(7, 28, 91, 280, 847, 2548),
    ),
    case(
        "warm_restarts-mult1.5",
        lambda: S.warm_restarts(1.0, 10, 1.5, final=0.1),
        partial(ref_warm_restarts, peak=1.0, period=10, mult=1.5, final=0.1),
        [9, 10, 11, 24, 25, 26, 47, 48, 81, 82, 131, 132],
    ),
    case(
        "warm_restarts-mult2-cycles3",
        lambda: S.warm_restarts(1.0, 10, 2, final=0.02, cycles=3),
        partial(ref_warm_restarts, peak=1.0, period=10, mult=2, final=0.02, cycles=3),
        around(10, 30, 70),
    ),
    case(
        "warm_restarts-mult1-cycles2-amplitude",
        lambda: S.warm_restarts(0.4, 60, final=0.04, decay=0.5, cycles=2, decay_mode="amplitude"),
        partial(
            ref_warm_restarts,
            peak=0.4,
            period=60,
            final=0.04,
            decay=0.5,
            cycles=2,
            mode="amplitude",
        ),
        around(60, 120),
    ),
    case(
        "warm_restarts-cycles0",
        lambda: S.warm_restarts(1.0, 10, cycles=0, final=0.3),
        lambda k: 0.3,
    ),
    case(
        "warm_restarts-k_decay2",
        lambda: S.warm_restarts(1.0, 50, 2, final=0.1, k_decay=2.0),
        partial(ref_warm_restarts, peak=1.0, period=50, mult=2, final=0.1, k_decay=2.0),
        around(50, 150),
    ),
    case(
        "warm_restarts-k_decay0.5",
        lambda: S.warm_restarts(1.0, 64, final=0.1, k_decay=0.5),
        partial(ref_warm_restarts, peak=1.0, period=64, final=0.1, k_decay=0.5),
        around(64, 128),
    ),
    case(
        "warm_restarts-shape-tanh",
        lambda: S.warm_restarts(1.0, 30, 2, final=0.1, shape=S.tanh_decay(1.0, 1, 0.0, -6.0, 4.0)),
        partial(ref_warm_restarts, peak=1.0, period=30, mult=2, final=0.1, unit=tanh_unit),
        around(30, 90, 210),
    ),
    case(
        "warm_restarts-shape-poly2-decay",
        lambda: S.warm_restarts(
            1.0, 45, decay=0.7, k_decay=1.5, shape=S.polynomial_decay(1.0, 0.0, 1, 2.0)
        ),
        partial(ref_warm_restarts, peak=1.0, period=45, decay=0.7, k_decay=1.5, unit=square_unit),
        around(45, 90, 135),
    ),
]

CYCLIC = [
    case(
        "cyclic-triangular",
        lambda: S.cyclic(0.1, 1.0, 20),
        partial(ref_cyclic, low=0.1, high=1.0, up=20),
        around(20, 40, 60),
    ),
    case(
        "cyclic-triangular2",
        lambda: S.cyclic(0.01, 0.1, 15, mode="triangular2"),
        partial(ref_cyclic, low=0.01, high=0.1, up=15, mode="triangular2"),
        around(15, 30, 60, 90),
    ),
    case(
        "cyclic-exp_range",
        lambda: S.cyclic(0.01, 0.1, 10, gamma=0.995, mode="exp_range"),
        partial(ref_cyclic, low=0.01, high=0.1, up=10, gamma=0.995, mode="exp_range"),
        around(10, 20),
    ),
    case(
        "cyclic-asymmetric",
        lambda: S.cyclic(0.0, 1.0, 7, 13),
        partial(ref_cyclic, low=0.0, high=1.0, up=7, down=13),
        around(7, 20, 27, 40),
    ),
    case(
        "cyclic-asymmetric-triangular2",
        lambda: S.cyclic(0.2, 0.6, 30, 10, mode="triangular2"),
        partial(ref_cyclic, low=0.2, high=0.6, up=30, down=10, mode="triangular2"),
        around(30, 40, 70, 80),
    ),
    case(
        "cyclic-scale_fn-cycle",
        lambda: S.cyclic(0.1, 0.5, 12, 8, scale_fn=scale_by_cycle),
        partial(ref_cyclic, low=0.1, high=0.5, up=12, down=8, fn=scale_by_cycle),
        around(12, 20, 40),
    ),
    case(
        "cyclic-scale_fn-iterations",
        lambda: S.cyclic(0.1, 0.5, 25, scale_fn=scale_by_step, scale_mode="iterations"),
        partial(ref_cyclic, low=0.1, high=0.5, up=25, fn=scale_by_step, fn_mode="iterations"),
        around(25, 50),
    ),
    case(
        "cyclic-momentum-triangular",
        lambda: S.cyclic(0.1, 1.0, 20).momentum,
        partial(ref_cyclic_momentum, base_m=0.8, max_m=0.9, up=20),
        around(20, 40),
    ),
    case(
        "cyclic-momentum-triangular2-asymmetric",
        lambda: (
            S.cyclic(
                0.1, 1.0, 9, 21, base_momentum=0.85, max_momentum=0.95, mode="triangular2"
            ).momentum
        ),
        partial(ref_cyclic_momentum, base_m=0.85, max_m=0.95, up=9, down=21, mode="triangular2"),
        around(9, 30, 39),
    ),
    case(
        "cyclic-momentum-exp_range",
        lambda: S.cyclic(0.01, 0.1, 10, gamma=0.99, mode="exp_range").momentum,
        partial(ref_cyclic_momentum, base_m=0.8, max_m=0.9, up=10, gamma=0.99, mode="exp_range"),
    ),
]

ONE_CYCLE = [
    case(
        "one_cycle",
        lambda: S.one_cycle(0.1, 100),
        partial(ref_one_cycle, peak=0.1, total=100),
        around(29, 99),
    ),
    case(
        "one_cycle-fractional-peak",
        lambda: S.one_cycle(0.1, 25),
        partial(ref_one_cycle, peak=0.1, total=25),
        [5, 6, 7, 8, 23, 24, 25, 26],
    ),
    case(
        "one_cycle-linear",
        lambda: S.one_cycle(1.0, 200, 0.25, 10.0, 100.0, anneal="linear"),
        partial(
            ref_one_cycle, peak=1.0, total=200, pct=0.25, div=10.0, final_div=100.0, shape="linear"
        ),
        around(49, 199),
    ),
    case(
        "one_cycle-three-phase",
        lambda: S.one_cycle(0.1, 100, 0.25, three_phase=True),
        partial(ref_one_cycle, peak=0.1, total=100, pct=0.25, three=True),
        around(24, 48, 99),
    ),
    case(
        "one_cycle-three-phase-linear-fractional",
        lambda: S.one_cycle(0.2, 37, 0.4, anneal="linear", three_phase=True),
        partial(ref_one_cycle, peak=0.2, total=37, pct=0.4, shape="linear", three=True),
        around(13, 14, 27, 28, 36),
    ),
    case(
        "one_cycle-momentum",
        lambda: S.one_cycle(0.1, 100).momentum,
        partial(ref_one_cycle_momentum, total=100),
        around(29, 99),
    ),
    case(
        "one_cycle-momentum-linear-fractional",
        lambda: (
            S.one_cycle(0.1, 25, 0.3, base_momentum=0.8, max_momentum=0.9, anneal="linear").momentum
        ),
        partial(ref_one_cycle_momentum, total=25, pct=0.3, base=0.8, top=0.9, shape="linear"),
        [5, 6, 7, 8, 23, 24, 25, 26],
    ),
    case(
        "one_cycle-momentum-three-phase",
        lambda: S.one_cycle(0.1, 100, 0.25, three_phase=True).momentum,
        partial(ref_one_cycle_momentum, total=100, pct=0.25, three=True),
        around(24, 48, 99),
    ),
]

COSINE_REF = partial(ref_cosine_decay, peak=1.0, decay_steps=300, final=0.1)
EXP_REF = partial(ref_exponential_decay, init=0.5, rate=0.99)
LINEAR_REF = partial(ref_linear, init=1.0, end=0.0, steps=200)
SWITCH_CHILDREN = (
    partial(ref_cosine_decay, peak=0.1, decay_steps=200),
    partial(ref_step_decay, init=0.1, factor=0.5, every=30),
    partial(ref_inverse_sqrt, peak=0.1, warmup=20),
)


def switch_children():
    return [S.cosine_decay(0.1, 200), S.step_decay(0.1, 0.5, 30), S.inverse_sqrt(0.1, 20)]


COMBINATORS = [
    case(
        "warmup-linear-shift",
        lambda: S.warmup(S.cosine_decay(1.0, 300, 0.1), 20),
        partial(ref_warmup, child=COSINE_REF, steps=20),
        around(20, 320),
    ),
    case(
        "warmup-cosine-no-shift",
        lambda: S.warmup(S.cosine_decay(1.0, 300, 0.1), 20, 0.01, shape="cosine", shift=False),
        partial(ref_warmup, child=COSINE_REF, steps=20, init=0.01, shape="cosine", shift=False),
        around(20, 300),
    ),
    case(
        "warmup-exponential",
        lambda: S.warmup(S.exponential_decay(0.5, 0.99), 30, 1e-3, shape="exponential"),
        partial(ref_warmup, child=EXP_REF, steps=30, init=1e-3, shape="exponential"),
        around(30),
    ),
    case(
        "warmup-exponential-no-shift",
        lambda: S.warmup(S.exponential_decay(0.5, 0.99), 30, 1e-3, None, "exponential", False),
        partial(ref_warmup, child=EXP_REF, steps=30, init=1e-3, shape="exponential", shift=False),
        around(30),
    ),
    case(
        "warmup-explicit-target",
        lambda: S.warmup(S.linear(1.0, 0.0, 200), 25, 0.1, target=2.0),
        partial(ref_warmup, child=LINEAR_REF, steps=25, init=0.1, target=2.0),
        around(25, 225),
    ),
    case(
        "warmup-explicit-target-no-shift",
        lambda: S.warmup(S.linear(1.0, 0.0, 200), 25, 0.1, 0.7, "cosine", False),
        partial(
            ref_warmup,
            child=LINEAR_REF,
            steps=25,
            init=0.1,
            target=0.7,
            shape="cosine",
            shift=False,
        ),
        around(25, 200),
    ),
    case(
        "warmup-zero-steps",
        lambda: S.warmup(S.cosine_decay(1.0, 300, 0.1), 0),
        COSINE_REF,
    ),
    case(
        "join-restart",
        lambda: S.join(
            [S.linear(0.0, 1.0, 50), S.cosine_decay(1.0, 200, 0.05), S.constant(0.05)], [50, 250]
        ),
        partial(
            ref_join,
            children=(
                partial(ref_linear, init=0.0, end=1.0, steps=50),
                partial(ref_cosine_decay, peak=1.0, decay_steps=200, final=0.05),
                partial(ref_constant, value=0.05),
            ),
            boundaries=(50, 250),
        ),
        around(50, 250),
    ),
    case(
        "join-continue",
        lambda: S.join([S.constant(0.5), S.exponential_decay(1.0, 0.99)], [100], restart=False),
        partial(
            ref_join,
            children=(
                partial(ref_constant, value=0.5),
                partial(ref_exponential_decay, init=1.0, rate=0.99),
            ),
            boundaries=(100,),
            restart=False,
        ),
        around(100),
    ),
    case(
        "join-per-child-restart",
        lambda: S.join(
            [S.linear(0.0, 1.0, 30), S.cosine_decay(1.0, 400), S.step_decay(0.2, 0.5, 25)],
            [30, 120],
            restart=(True, False, True),
        ),
        partial(
            ref_join,
            children=(
                partial(ref_linear, init=0.0, end=1.0, steps=30),
                partial(ref_cosine_decay, peak=1.0, decay_steps=400),
                partial(ref_step_decay, init=0.2, factor=0.5, every=25),
            ),
            boundaries=(30, 120),
            restart=(True, False, True),
        ),
        around(30, 120, 145),
    ),
    case(
        "join-repeated-boundary",
        lambda: S.join([S.constant(1.0), S.constant(2.0), S.linear(0.5, 0.0, 100)], [60, 60]),
        partial(
            ref_join,
            children=(
                partial(ref_constant, value=1.0),
                partial(ref_constant, value=2.0),
                partial(ref_linear, init=0.5, end=0.0, steps=100),
            ),
            boundaries=(60, 60),
        ),
        around(60, 160),
    ),
    case(
        "join-single",
        lambda: S.join([S.cosine_decay(1.0, 300, 0.1)], []),
        COSINE_REF,
    ),
    case(
        "clip-both",
        lambda: S.clip(S.exponential_decay(1.0, 0.98), 0.05, 0.5),
        partial(
            ref_clip,
            child=partial(ref_exponential_decay, init=1.0, rate=0.98),
            floor=0.05,
            ceiling=0.5,
        ),
        [34, 35, 36, 147, 148, 149],
    ),
    case(
        "clip-floor",
        lambda: S.clip(S.cosine_decay(1.0, 300, 0.1), floor=0.3),
        partial(ref_clip, child=COSINE_REF, floor=0.3),
    ),
    case(
        "clip-ceiling",
        lambda: S.clip(S.inverse_sqrt(1.0, 40), ceiling=0.6),
        partial(ref_clip, child=partial(ref_inverse_sqrt, peak=1.0, warmup=40), ceiling=0.6),
    ),
    case(
        "scale",
        lambda: S.scale(S.cosine_decay(1.0, 100), 0.3),
        lambda k: 0.3 * ref_cosine_decay(k, 1.0, 100),
    ),
    case(
        "product",
        lambda: S.product([S.cosine_decay(1.0, 300), S.linear(0.0, 1.0, 40), S.constant(2.0)]),
        lambda k: ref_cosine_decay(k, 1.0, 300) * ref_linear(k, 0.0, 1.0, 40) * 2.0,
        around(40, 300),
    ),
    *[
        case(
            f"switch-{i}",
            partial(lambda i: S.switch(i, switch_children()), i),
            SWITCH_CHILDREN[i],
            around(20, 30, 200),
        )
        for i in range(3)
    ],
    case(
        "from_fn-params",
        lambda: S.from_fn(harmonic, {"a": 0.2, "b": 0.05}),
        lambda k: 0.2 / (1 + 0.05 * k),
    ),
    case(
        "from_fn-plain",
        lambda: S.from_fn(halving),
        lambda k: 0.1 * 0.5 ** (k // 7),
        around(7, 14),
    ),
    case(
        "multiplicative",
        lambda: S.multiplicative(0.5, slow_factor),
        partial(ref_multiplicative, init=0.5, factor=slow_factor),
        big=False,
    ),
    case(
        "multiplicative-constant-factor",
        lambda: S.multiplicative(1.0, const_factor),
        partial(ref_multiplicative, init=1.0, factor=const_factor),
        big=False,
    ),
]

CASES = DECAY + RESTARTS + CYCLIC + ONE_CYCLE + COMBINATORS

# The float32 path: one configuration per schedule (two or three where the float32
# arithmetic differs: a float cycle walk, a float knot).
FLOAT32 = {
    "constant",
    "step_decay-float-every",
    "multi_step-duplicated",
    "piecewise_constant-left",
    "piecewise_interpolate-cosine",
    "exponential_decay-floor",
    "exponential_decay-per-step",
    "natural_exp_decay-staircase-begin",
    "inverse_time_decay-defaults",
    "polynomial_decay-cycle-power2-begin",
    "linear-increasing-begin",
    "cosine_decay-exponent",
    "tanh_decay-bounds",
    "inverse_sqrt-cooldown",
    "warmup_stable_decay-1-sqrt",
    "warmup_stable_decay-warmup-exponential",
    "warm_restarts-mult2",
    "warm_restarts-mult1.5",
    "warm_restarts-shape-tanh",
    "cyclic-triangular2",
    "cyclic-momentum-exp_range",
    "one_cycle-three-phase-linear-fractional",
    "one_cycle-momentum",
    "warmup-cosine-no-shift",
    "join-per-child-restart",
    "clip-both",
    "scale",
    "product",
    "switch-1",
    "from_fn-params",
    "multiplicative",
}
CASES_FLOAT32 = [c for c in CASES if c.id in FLOAT32]
assert len(CASES_FLOAT32) == len(FLOAT32)


def _steps(edges, big, dtype):
    """0..RANGE-1, negative steps, the edges and large steps, padded to one fixed length so
    that every case reuses the same compiled kernels."""
    extra = [*NEGATIVE, *edges, *(BIG if big else ())]
    if dtype == np.int32:
        extra = [k for k in extra if k < 10**5]  # float32 cannot resolve larger steps
    assert len(extra) <= LENGTH - RANGE
    pad = np.arange(RANGE, LENGTH - len(extra))
    return np.concatenate([np.arange(RANGE), extra, pad]).astype(dtype)


def _reference(ref, steps):
    return np.array([ref(max(int(k), 0)) for k in steps], np.float64)


@pytest.mark.parametrize(("build", "ref", "edges", "big"), CASES)
def test_float64(build, ref, edges, big):
    steps = _steps(edges, big, np.int64)
    with jax.enable_x64(True):
        schedule = build()
        got = schedule(jnp.asarray(steps))
        assert got.dtype == jnp.float64
        assert got.shape == steps.shape
    np.testing.assert_allclose(np.asarray(got), _reference(ref, steps), rtol=1e-12, atol=1e-15)


@jax.jit
def _jit_call(schedule, steps):
    return schedule(steps)


@pytest.mark.parametrize(("build", "ref", "edges", "big"), CASES_FLOAT32)
def test_float32(build, ref, edges, big):
    """Default (float32) mode, through `jax.jit` (the float64 test runs eagerly)."""
    steps = _steps(edges, big, np.int32)
    schedule = build()
    got = _jit_call(schedule, jnp.asarray(steps))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), _reference(ref, steps), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("build", "ref"),
    [
        (
            lambda: S.step_decay(0.1, 0.5, 30),
            partial(ref_step_decay, init=0.1, factor=0.5, every=30),
        ),
        (
            lambda: S.warm_restarts(1.0, 10, 2),
            partial(ref_warm_restarts, peak=1.0, period=10, mult=2),
        ),
    ],
    ids=["step_decay", "warm_restarts"],
)
def test_scalar_and_2d_steps(build, ref):
    """A Python int step gives a 0-d value; a 2-D step array is evaluated elementwise."""
    steps = np.arange(-3, 57).reshape(6, 10)
    with jax.enable_x64(True):
        schedule = build()
        grid = schedule(jnp.asarray(steps))
        scalars = [schedule(int(k)) for k in (-3, 30)]
    assert grid.shape == steps.shape
    want = _reference(ref, steps.ravel()).reshape(steps.shape)
    np.testing.assert_allclose(np.asarray(grid), want, rtol=1e-12, atol=1e-15)
    for k, value in zip((-3, 30), scalars, strict=True):
        assert value.shape == ()
        np.testing.assert_allclose(float(value), ref(max(k, 0)), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------------
# Warm restarts: the restart step opens the new cycle exactly.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "mult"),
    [(50, 1), (3, 2), (7, 3), (10, 1.5)],
    ids=["mult1", "mult2", "mult3", "mult1.5"],
)
def test_warm_restarts_restart_steps(period, mult):
    """At each restart k = period * (1 + mult + ... + mult**(n-1)) the value is the new
    cycle's peak, peak * decay**n; the step before is the tail of cycle n - 1."""
    peak, final, decay = 1.0, 0.1, 0.75
    starts, start, length = [], Fraction(0), Fraction(period)
    for _ in range(12 if mult != 1 else 8):
        start, length = start + length, length * Fraction(mult)
        starts.append(start)
    first = [math.ceil(s) for s in starts]  # first integer step of each new cycle
    steps = np.zeros(LENGTH, np.int64)
    steps[: 2 * len(first)] = [*first, *(k - 1 for k in first)]
    with jax.enable_x64(True):
        schedule = S.warm_restarts(peak, period, mult, final=final, decay=decay)
        values = np.asarray(schedule(jnp.asarray(steps)))
    at, before = values[: len(first)], values[len(first) : 2 * len(first)]
    for n, (s, k) in enumerate(zip(starts, first, strict=True), start=1):
        assert ref_cycle(k, period, mult)[0] == n
        assert ref_cycle(k - 1, period, mult)[0] == n - 1
        want = ref_warm_restarts(k, peak, period, mult, final, decay)
        np.testing.assert_allclose(at[n - 1], want, rtol=1e-12)
        if k == s:  # an integer restart step gives the cycle's peak exactly
            np.testing.assert_allclose(at[n - 1], peak * decay**n, rtol=1e-12)
        tail = ref_warm_restarts(k - 1, peak, period, mult, final, decay)
        np.testing.assert_allclose(before[n - 1], tail, rtol=1e-12)


def test_geometric_cycle_walk():
    """geometric_cycle returns (n, t, length) of the exact walk, integer or fractional."""
    extra = [2**31 - 1, 10**9, 630, 629, 631]
    steps = np.concatenate([extra, np.arange(0, 7 * (LENGTH - len(extra)), 7)])
    for period, mult in [(10, 2), (7, 3), (10, 1.5), (13, 1)]:
        with jax.enable_x64(True):
            n, t, length = S.geometric_cycle(jnp.asarray(steps), period, mult)
        want = [ref_cycle(int(k), period, mult) for k in steps]
        np.testing.assert_array_equal(np.asarray(n), [w[0] for w in want])
        np.testing.assert_allclose(np.asarray(t, float), [float(w[1]) for w in want], rtol=1e-15)
        np.testing.assert_allclose(
            np.asarray(length, float), [float(w[2]) for w in want], rtol=1e-15
        )


def test_warm_restarts_long_cycle_int32():
    """Cycle 1 of warm_restarts(1.0, 1.5e9, 2) starts at 1.5e9 and lasts 3e9 steps, longer
    than int32 can count, while every step in it is a valid int32."""
    steps = np.array([1_500_000_000, 1_700_000_000, 2_000_000_000, 2**31 - 1], np.int32)
    got = np.asarray(S.warm_restarts(1.0, 1_500_000_000, 2)(jnp.asarray(steps)))
    want = [ref_warm_restarts(int(k), 1.0, 1_500_000_000, 2) for k in steps]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


def test_exponential_decay_rate_one_with_end():
    with jax.enable_x64(True):
        steps = jnp.arange(LENGTH)
        flat = np.asarray(S.exponential_decay(1.0, 1.0, 10, end=0.5)(steps))
        natural = np.asarray(S.natural_exp_decay(1.0, 0.0, 10, end=0.5)(steps))
    np.testing.assert_array_equal(flat, np.ones(LENGTH))
    np.testing.assert_array_equal(natural, np.ones(LENGTH))


def test_dtype_follows_hyperparameters():
    """float64 only for Python-float (or float64) hyperparameters under x64; float32 arrays
    give float32 even with x64 on and int64 steps; bfloat16 gives bfloat16."""
    steps = np.arange(LENGTH)
    want = _reference(partial(ref_cosine_decay, peak=0.5, decay_steps=300), steps)
    with jax.enable_x64(True):
        f64 = S.cosine_decay(0.5, 300)(jnp.asarray(steps))
        f32 = S.cosine_decay(jnp.float32(0.5), 300)(jnp.asarray(steps))
        bf16 = S.cosine_decay(jnp.bfloat16(0.5), 300)(jnp.asarray(steps))
    assert (f64.dtype, f32.dtype, bf16.dtype) == (jnp.float64, jnp.float32, jnp.bfloat16)
    np.testing.assert_allclose(np.asarray(f32), want, rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(bf16, np.float64), want, rtol=1e-2, atol=2e-3)


# --------------------------------------------------------------------------------------
# Random schedules: determinism, blocks and ranges (no closed form).
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw_key", [False, True], ids=["typed-key", "raw-key"])
def test_random_uniform_blocks_and_range(raw_key):
    key = jax.random.PRNGKey(3) if raw_key else jax.random.key(3)
    low, high, every = 0.1, 0.5, 4
    schedule = S.random_uniform(key, low, high, every)
    steps = np.arange(LENGTH)
    values = np.asarray(schedule(jnp.asarray(steps)))
    assert values.dtype == np.float32
    blocks = values.reshape(-1, every)
    np.testing.assert_array_equal(blocks, np.repeat(blocks[:, :1], every, axis=1))
    assert len(np.unique(blocks[:, 0])) == len(blocks)  # a fresh draw every block
    assert np.all((values >= low) & (values <= high))
    # Deterministic: one by one, again, and from a newly built schedule with the same key.
    picks = (0, 3, 4, 37, LENGTH - 1)
    one_by_one = np.array([float(schedule(int(k))) for k in picks])
    np.testing.assert_array_equal(one_by_one, values[list(picks)])
    again = S.random_uniform(key, low, high, every)(jnp.asarray(steps))
    np.testing.assert_array_equal(np.asarray(again), values)
    assert float(schedule(-3)) == values[0]  # negative steps are step 0
    other = S.random_uniform(jax.random.key(4), low, high, every)(jnp.asarray(steps))
    assert not np.any(np.asarray(other) == values)


def test_random_uniform_log_scale():
    low, high = 1e-4, 1e-1
    with jax.enable_x64(True):
        schedule = S.random_uniform(jax.random.key(0), low, high, log_scale=True)
        values = np.asarray(schedule(jnp.arange(4 * LENGTH)))
        assert values.dtype == np.float64
        np.testing.assert_array_equal(
            np.asarray(schedule(jnp.asarray([17, 4 * LENGTH - 1]))), values[[17, -1]]
        )
    assert np.all((values >= low * (1 - 1e-12)) & (values <= high * (1 + 1e-12)))
    u = (np.log(values) - math.log(low)) / (math.log(high) - math.log(low))
    assert abs(np.mean(u) - 0.5) < 0.03 and abs(np.mean(u < 0.25) - 0.25) < 0.03
    assert len(np.unique(values)) == len(values)  # every = 1: a draw per step


@pytest.mark.parametrize(
    ("kind", "x64"),
    [("normal", False), ("uniform", False), ("normal", True)],
    ids=["normal-float32", "uniform-float32", "normal-float64"],
)
def test_noise_window_and_bounds(kind, x64):
    pct, start, stop = 0.2, 50, 150
    steps = np.arange(LENGTH)
    with jax.enable_x64(x64):
        clean = S.cosine_decay(1.0, 400, 0.1)
        noisy = S.noise(clean, jax.random.key(7), pct, 0.5, start, stop, kind)
        values = np.asarray(noisy(jnp.asarray(steps)))
        base = np.asarray(clean(jnp.asarray(steps)))
        picks = [0, 49, 50, 51, 149, 150, 299]
        one_by_one = np.array([np.asarray(noisy(k)) for k in picks])
        again = np.asarray(S.noise(clean, jax.random.key(7), pct, 0.5, start, stop, kind)(steps))
    assert values.dtype == (np.float64 if x64 else np.float32)
    outside = (steps < start) | (steps >= stop)
    np.testing.assert_array_equal(values[outside], base[outside])
    ratio = values[~outside] / base[~outside]
    assert np.all(np.abs(ratio - 1) <= pct * (1 + 1e-6))
    assert len(np.unique(ratio)) == stop - start  # a draw per step
    assert np.abs(ratio - 1).max() > 0.5 * pct
    np.testing.assert_array_equal(one_by_one, values[picks])
    np.testing.assert_array_equal(again, values)


def test_noise_without_stop_and_negative_steps():
    clean = S.exponential_decay(0.5, 0.99)
    noisy = S.noise(clean, jax.random.key(1), pct=0.1, start=10, kind="uniform")
    steps = np.arange(-5, LENGTH - 5)
    values = np.asarray(noisy(jnp.asarray(steps)))
    base = np.asarray(clean(jnp.asarray(steps)))
    on = steps >= 10
    np.testing.assert_array_equal(values[~on], base[~on])
    ratio = values[on] / base[on]
    assert np.all(np.abs(ratio - 1) <= 0.1 * (1 + 1e-6))
    assert np.all(ratio != 1)
    np.testing.assert_array_equal(values[:5], np.full(5, values[5]))  # negative steps are 0
