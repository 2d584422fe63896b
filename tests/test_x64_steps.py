"""int64 steps under ``jax_enable_x64``: cycle indices, replays and noise beyond int32.

With x64 a Python int step is an int64 array, and a schedule must count cycles, loop
bounds and noise blocks in that type: a cast to int32 (or uint32) wraps at 2**31 (2**32)
and silently gives another step's value, or inf where a wrapped cycle index goes negative.
References are exact Python integers and `fractions.Fraction` for the cycle arithmetic and
`math` in float64 for the values; nothing expected is computed with lrjax. Every test turns
x64 on with ``jax.enable_x64(True)`` around its body only, and builds its schedules inside
it (so their float hyperparameters are float64).
"""

from __future__ import annotations

import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax.schedules as S
from lrjax.compat import keras as K
from lrjax.compat import timm as TM
from lrjax.compat import torch as T

BIG = (2**31, 2**32, 2**33 + 5, 2**40, 2**62)


def cycle(k: int, period: int, mult) -> tuple[int, int, Fraction]:
    """(n, start, length) of the cycle that holds step k: cycles of length period,
    period * mult, ... walked with exact integers / Fractions (never a float log)."""
    if mult == 1:
        n = k // period
        return n, n * period, Fraction(period)
    n, start, length = 0, Fraction(0), Fraction(period)
    while start + length <= k:
        n, start, length = n + 1, start + length, length * Fraction(mult)
    return n, start, length


def sgdr(k, peak, period, mult=1, final=0.0, decay=1.0, cycles=None, mode="peak"):
    """warm_restarts from its docstring, in float64 with the exact cycle of `cycle`."""
    n, start, length = cycle(k, period, mult)
    if cycles is not None and n >= cycles:
        return final
    unit = (1 + math.cos(math.pi * float((k - start) / length))) / 2
    fade = decay**n  # Python floats underflow to 0.0 for a huge n
    if mode == "peak":
        return final + (peak * fade - final) * unit
    return final + (peak - final) * fade * unit


@pytest.mark.parametrize(("period", "mult"), [(10, 1), (1, 1), (10, 2), (7, 3), (1, 2), (1, 1000)])
def test_geometric_cycle_int64(period, mult):
    """The index, offset and length are the exact ones, in int64, at steps past 2**31;
    the length saturates at int64's maximum instead of overflowing."""
    top = 2**63 - 1
    with jax.enable_x64(True):
        n, t, length = S.geometric_cycle(jnp.asarray(BIG), period, mult)
    assert n.dtype == t.dtype == length.dtype == np.int64
    for k, n_k, t_k, len_k in zip(BIG, n.tolist(), t.tolist(), length.tolist(), strict=True):
        want_n, start, want_len = cycle(k, period, mult)
        assert (n_k, t_k) == (want_n, k - start), k
        assert len_k == min(want_len, top), k
    if mult > 1:  # the index grows like log_mult(step / period), not like the step
        assert n.tolist()[-1] <= math.log(2**62 / period + 1, mult) + 1


@pytest.mark.parametrize(("period", "mult"), [(10, 2), (7, 3), (10, 1), (3, 1)])
def test_restart_steps_beyond_int32_open_their_cycle(period, mult):
    """At the first restart step past 2**40 the new cycle starts (t = 0) and one step
    earlier the previous cycle is on its last step: exact, not a float log's guess."""
    if mult == 1:
        n = 2**40 // period + 1
        start = n * period
    else:
        n, start, length = cycle(2**40, period, mult)
        n, start = n + 1, int(start + length)
    with jax.enable_x64(True):
        got_n, got_t, _ = S.geometric_cycle(jnp.asarray([start, start - 1]), period, mult)
        schedule = S.warm_restarts(1.0, period, mult, final=0.25)
        values = np.asarray(schedule(jnp.asarray([start, start - 1])))
    assert got_n.tolist() == [n, n - 1]
    assert got_t.tolist()[0] == 0
    assert values[0] == 1.0  # the restart value exactly
    np.testing.assert_allclose(
        values[1], sgdr(start - 1, 1.0, period, mult, final=0.25), rtol=1e-12
    )


CONFIGS = {
    "decay": dict(peak=0.1, period=10, final=0.001, decay=0.9),
    "no-decay": dict(peak=0.1, period=10, final=0.001),
    "decay-zero": dict(peak=0.1, period=10, final=0.001, decay=0.0),
    "mult2-decay": dict(peak=0.1, period=10, mult=2, final=0.001, decay=0.9),
    "mult3-amplitude": dict(peak=0.1, period=7, mult=3, final=0.01, decay=0.5, mode="amplitude"),
    "period1": dict(peak=1.0, period=1, final=0.5, decay=0.999),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_warm_restarts_int64(name):
    """Finite and equal to the float64 reference at every big step, eager and jitted;
    decay**n of a huge cycle index is 0, never inf (the bug: an int32 index wrapped
    negative and decay**n overflowed)."""
    cfg = dict(CONFIGS[name])
    mode = cfg.pop("mode", "peak")
    with jax.enable_x64(True):
        schedule = S.warm_restarts(**cfg, decay_mode=mode)
        eager = np.array([float(schedule(k)) for k in BIG])
        jitted = np.asarray(jax.jit(schedule)(jnp.asarray(BIG)))
    want = [sgdr(k, **cfg, mode=mode) for k in BIG]
    assert np.all(np.isfinite(eager)) and np.all(np.isfinite(jitted))
    np.testing.assert_allclose(eager, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jitted, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mult", [1, 2])
def test_warm_restarts_cycles_reach_final(mult):
    """cycles=3: three cycles run (10 + 10 + 10, or 10 + 20 + 40 steps), then the rate is
    exactly `final` at every later step, int32 or far beyond it."""
    end = 30 if mult == 1 else 70
    with jax.enable_x64(True):
        schedule = S.warm_restarts(0.1, 10, mult, final=0.001, decay=0.9, cycles=3)
        last = float(schedule(end - 1))
        after = [float(schedule(k)) for k in (end, end + 1, 2**31 - 1, *BIG)]
        traced = np.asarray(jax.jit(schedule)(jnp.asarray(BIG)))
    np.testing.assert_allclose(last, sgdr(end - 1, 0.1, 10, mult, 0.001, 0.9), rtol=1e-12)
    assert last > 0.001
    assert after == [0.001] * len(after)
    assert traced.tolist() == [0.001] * len(BIG)


def test_compat_restarts_int64():
    """The torch, Keras and timm restart schedules share the cycle arithmetic."""
    steps = BIG
    with jax.enable_x64(True):
        torch = T.CosineAnnealingWarmRestarts(0.1, 10, 2, eta_min=0.01)
        keras = K.CosineDecayRestarts(0.1, 1000, t_mul=2.0, m_mul=0.9, alpha=0.1)
        timm = TM.CosineLRScheduler(0.1, 10, lr_min=0.001, cycle_decay=0.5, cycle_limit=3)
        built = dict(torch=torch, keras=keras, timm=timm)
        got = {name: [float(s(k)) for k in steps] for name, s in built.items()}
    want = {
        "torch": [sgdr(k, 0.1, 10, 2, final=0.01) for k in steps],
        "keras": [sgdr(k, 0.1, 1000, 2, 0.01, 0.9, mode="amplitude") for k in steps],
        "timm": [0.001] * len(steps),  # after its three cycles
    }
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, err_msg=name)


def test_float_step_cycle_index_saturates():
    """A float step far beyond int32 (without x64) saturates the int32 index at 2**30,
    documented, instead of an out-of-range float-to-int cast; a single-cycle schedule
    (timm's default cycle_limit=1) is then at its floor."""
    n, t, _ = S.geometric_cycle(jnp.float32(2**40), 1, 1)
    assert n.dtype == np.int32 and int(n) == 2**30 and float(t) == 0.0
    timm = TM.CosineLRScheduler(0.1, 10, lr_min=0.01)
    assert float(timm(jnp.float32(2**40))) == pytest.approx(0.01)


def test_cyclic_int64():
    """The triangular phase p = k mod (up + down) is exact past 2**32."""
    low, high, up, down = 0.001, 0.1, 2000, 1000
    with jax.enable_x64(True):
        schedule = S.cyclic(low, high, up, down)
        got = [float(schedule(k)) for k in BIG]
    want = []
    for k in BIG:
        p = k % (up + down)
        s = p / up if p <= up else (up + down - p) / down
        want.append(low + (high - low) * s)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --------------------------------------------------------------------------------------
# Replays: multiplicative and torch's recursions loop over the step.


def halve(j):
    return 0.5


def test_multiplicative_counts_in_the_step_type():
    """factor sees the step's integer type (int64 under x64, int32 without)."""
    seen = []

    def factor(j):
        seen.append(j.dtype)
        return 0.5

    with jax.enable_x64(True):
        assert float(S.multiplicative(1.0, factor)(3)) == 0.125
    assert seen and set(seen) == {np.dtype(np.int64)}
    seen.clear()
    assert float(S.multiplicative(1.0, factor)(3)) == 0.125
    assert set(seen) == {np.dtype(np.int32)}


REPLAYS = {
    "multiplicative": lambda: S.multiplicative(1.0, halve),
    "MultiplicativeLR": lambda: T.MultiplicativeLR(1.0, halve),
    # a CosineAnnealingLR with eta_min != 0 makes the chain replay its recursion
    "ChainedScheduler": lambda: T.ChainedScheduler(
        1.0, [T.CosineAnnealingLR(1.0, 10, eta_min=0.1), T.MultiplicativeLR(1.0, halve)]
    ),
    "SequentialLR": lambda: T.SequentialLR(
        1.0, [T.ConstantLR(1.0, 0.5, 2), T.MultiplicativeLR(1.0, halve)], [2]
    ),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_replays_refuse_steps_beyond_2_32(name):
    """A concrete step beyond 2**32 cannot be replayed in practice: ValueError, never a
    wrapped count; a traced one is NaN there while small steps keep their value."""
    with jax.enable_x64(True):
        schedule = REPLAYS[name]()
        small = float(schedule(3))
        # SequentialLR's product starts at its milestone 2: step 2**32 + 3 is its 2**32 + 1
        for k in (2**32 + 3, 2**33 + 5, 2**40, 2**62):
            with pytest.raises(ValueError, match=r"beyond the 4294967296 \(2\*\*32\) steps"):
                schedule(k)
        with pytest.raises(ValueError, match="2\\*\\*32"):
            schedule(jnp.asarray([3, 2**40]))
        with pytest.raises(ValueError, match="2\\*\\*32"):
            schedule(jnp.float64(2**40))
        traced = np.asarray(jax.jit(schedule)(jnp.asarray([3, 2**32 + 3, 2**40, 2**62])))
    assert np.isfinite(small)
    assert traced[0] == small
    assert np.all(np.isnan(traced[1:]))


def test_replay_values_at_small_int64_steps():
    """The int64 loop gives torch's products: 0.5**k, and for SequentialLR the constant
    phase then a product that continues from the rate in effect."""
    steps = [0, 1, 2, 3, 7]
    with jax.enable_x64(True):
        mult = [float(REPLAYS["multiplicative"]()(k)) for k in steps]
        seq = [float(REPLAYS["SequentialLR"]()(k)) for k in steps]
    assert mult == [0.5**k for k in steps]
    # ConstantLR(factor 0.5) for k < 2, then 0.5 * 0.5**(k - 2 + 1) (factor(0) applies)
    assert seq == [0.5, 0.5, 0.25, 0.125, 0.5 * 0.5**6]


@pytest.mark.slow
def test_multiplicative_replays_past_int32():
    """2**31 + 2 steps (about 10 s on a CPU core): the factor at j = 2**31 + 1 applies. An int32
    count would have wrapped negative, skipped the loop and returned init."""
    mark = 2**31 + 1
    with jax.enable_x64(True):
        schedule = S.multiplicative(1.0, lambda j: jnp.where(j == mark, 0.5, 1.0))
        got = float(schedule(mark + 1))
    assert got == 0.5


# --------------------------------------------------------------------------------------
# Noise: each block's draw folds in all 64 bits of it.


def test_noise_blocks_beyond_2_32_are_their_own():
    """Block 2**32 + b is not block b again (a uint32 cast repeated the draws with period
    2**32); steps below 2**32 draw the same in int32 and int64."""
    key = jax.random.key(0)
    with jax.enable_x64(True):
        uniform = S.random_uniform(key, 0.1, 0.5)
        noisy = S.noise(S.constant(1.0), key, 0.5)
        for s in (uniform, noisy):
            small = [float(s(k)) for k in (5, 2**31 - 1)]
            far = [float(s(k)) for k in (2**32 + 5, 2**33 + 5, 2**40 + 5, 2**62 + 5)]
            assert len(set([small[0], *far])) == 5, far
            assert float(s(jnp.int32(5))) == small[0] == float(s(jnp.int64(5)))
            steps = jnp.asarray([5, 2**32 + 5, 2**40 + 5])
            jitted = np.asarray(jax.jit(s)(steps))
            np.testing.assert_allclose(jitted, [small[0], far[0], far[2]], rtol=1e-14)
        values = np.asarray(uniform(jnp.asarray(BIG)))
    assert np.all((values >= 0.1) & (values <= 0.5))
