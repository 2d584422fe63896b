"""Steps and step counts beyond int32, and schedules as values.

Without x64, a Python int step or step count beyond int32 is computed as a float; the
reference is the same schedule built and evaluated under x64 (int64 steps, float64), so
the float32 path must agree with it to float32 accuracy. Schedules that repeat or replay
every step cannot be evaluated from a float32 step and must say so.
"""

import jax
import numpy as np
import pytest

import lrjax
import lrjax.schedules as S
from lrjax.compat import keras as K
from lrjax.compat import timm as TM
from lrjax.compat import torch as T

BIG = 10**10
STEPS = (2**31 - 2, 2**31 - 1, 3 * 10**9 + 7, 2**40)


def smooth():
    """Schedules whose value is a monotone or smooth function of the step."""
    return {
        "constant": S.constant(0.1),
        "cosine_decay": S.cosine_decay(1.0, 1000, final=0.01),
        "cosine_decay_big": S.cosine_decay(1000.0, BIG),
        "step_decay": S.step_decay(0.1, 0.5, every=3 * 10**9),
        "multi_step": S.multi_step(0.1, [10, 3 * 10**9], 0.5),
        "piecewise_constant": S.piecewise_constant([10, 2**33], [0.1, 0.05, 0.01]),
        "piecewise_interpolate": S.piecewise_interpolate([0, 10, 2**33], [0.1, 0.05, 0.01]),
        "exponential_decay": S.exponential_decay(0.1, 0.5, BIG),
        "natural_exp_decay": S.natural_exp_decay(0.1, 0.5, 1000),
        "inverse_time_decay": S.inverse_time_decay(0.1, 0.5, 1000),
        "polynomial_decay": S.polynomial_decay(0.1, 0.001, BIG, power=2.0),
        "linear": S.linear(0.1, 0.0, BIG),
        "tanh_decay": S.tanh_decay(0.1, BIG),
        "inverse_sqrt": S.inverse_sqrt(0.1, 1000),
        "warmup_stable_decay": S.warmup_stable_decay(
            0.1, warmup_steps=10**9, stable_steps=3 * 10**9, decay_steps=BIG
        ),
        "one_cycle": S.one_cycle(0.1, BIG),
        "warmup": S.warmup(S.cosine_decay(1.0, BIG), steps=10**9),
        "join": S.join([S.constant(0.1), S.linear(0.01, 0.0, BIG)], [3 * 10**9]),
        "torch_StepLR": T.StepLR(0.1, 30),
        "torch_OneCycleLR": T.OneCycleLR(0.1, 0.1, total_steps=BIG),
        "torch_PolynomialLR": T.PolynomialLR(0.1, total_iters=BIG),
        "keras_ExponentialDecay": K.ExponentialDecay(0.1, BIG, 0.5),
        "keras_CosineDecay": K.CosineDecay(0.1, BIG),
        "timm_CosineLRScheduler": TM.CosineLRScheduler(0.1, t_initial=BIG),
    }


def repeating():
    return {
        "cyclic": S.cyclic(0.001, 0.1, 2000),
        "warm_restarts": S.warm_restarts(0.1, 1000, mult=2, final=0.001),
        "torch_CosineAnnealingLR": T.CosineAnnealingLR(0.1, 3000),
        "torch_CosineAnnealingWarmRestarts": T.CosineAnnealingWarmRestarts(0.1, 10, 2),
        "keras_CosineDecayRestarts": K.CosineDecayRestarts(0.1, 1000),
        "warmup_of_cyclic": S.warmup(S.cyclic(0.001, 0.1, 2000), steps=100),
    }


def _values(build, name):
    return np.array([float(build()[name](k)) for k in STEPS])


@pytest.mark.parametrize("name", sorted(smooth()))
def test_beyond_int32_matches_int64(name):
    got = _values(smooth, name)
    with jax.enable_x64(True):
        want = _values(smooth, name)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(repeating()))
def test_repeating_schedules(name):
    """Exact at int32's last step; beyond it, refused without x64, exact with it."""
    schedule = repeating()[name]
    assert np.isfinite(float(schedule(2**31 - 1)))
    with pytest.raises(ValueError, match=r"beyond int32 .*jax_enable_x64"):
        schedule(2**40)
    with jax.enable_x64(True):
        assert np.isfinite(float(repeating()[name](2**40)))


def test_optax_giant_int_steps():
    """optax's schedule test: cosine over 1e10 steps at step 1e9 (no OverflowError)."""
    schedule = S.cosine_decay(1000.0, int(1e10), alpha=0.0)
    np.testing.assert_allclose(jax.jit(schedule)(int(1e9)), 975.52826, rtol=1e-6)


def test_array_inputs_are_copied():
    """Schedules and optimizers are values: mutating the NumPy input later changes nothing."""
    lr = np.array(0.1)
    step_lr = T.StepLR(lr, step_size=30)
    cyclic = T.CyclicLR(0.1, lr, np.array(5.0))
    one_cycle = T.OneCycleLR(0.1, lr, total_steps=100)
    boundaries = np.array([10, 20])
    pieces = S.piecewise_constant(boundaries, [0.3, 0.2, 0.1])
    opt = lrjax.adam(lr)
    before = [float(s(3)) for s in (step_lr, cyclic, one_cycle)], float(pieces(15))
    lr *= 0.1
    boundaries[:] = 0
    after = [float(s(3)) for s in (step_lr, cyclic, one_cycle)], float(pieces(15))
    assert before == after
    params = np.ones(2, np.float32)
    updates, _ = opt.update(params, opt.init(params), params)
    np.testing.assert_allclose(updates, -0.1 * np.ones(2), rtol=1e-6)
