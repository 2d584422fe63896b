"""Concrete invalid hyperparameters raise ValueError naming the argument, the value and what
is allowed; traced values are never checked (so validation cannot break jit or vmap)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax.schedules as S
from lrjax.compat import keras, timm, torch

COS = S.cosine_decay(0.1, 100)
STEP = torch.StepLR(0.1, 10)
KEY = jax.random.key(0)
NAN = float("nan")

# (call, regex the message must match: argument name, offending value, allowed range)
BAD = [
    (lambda: S.constant(NAN), r"value must be a finite number >= 0, got nan"),
    (lambda: S.step_decay(0.1, 0.5, 0), r"every must be a finite number > 0, got 0"),
    (lambda: S.step_decay(0.1, -0.5, 10), r"factor must be a finite number >= 0, got -0.5"),
    (lambda: S.multi_step(0.1, [-1, 5], 0.5), r"milestones must be .*>= 0, got \[-1 +5\]"),
    (lambda: S.piecewise_constant([10, 5], [1.0, 2.0, 3.0]), r"boundaries must be sorted"),
    (lambda: S.piecewise_constant([10], [1.0]), r"values must have one more entry"),
    (lambda: S.piecewise_constant([10], [1.0, 2.0], side="up"), r"side must be one of"),
    (lambda: S.piecewise_interpolate([0, 5], [1.0, 2.0, 3.0]), r"same length"),
    (lambda: S.piecewise_interpolate([0, 5], [1.0, 2.0], "spline"), r"shape must be one of"),
    (lambda: S.exponential_decay(0.1, -0.5), r"rate must be a finite number >= 0, got -0.5"),
    (lambda: S.exponential_decay(0.1, 0.5, steps=0), r"steps must be a finite number > 0"),
    (lambda: S.exponential_decay(0.1, 0.5, begin=-3), r"begin must be .*>= 0, got -3"),
    (
        lambda: S.exponential_decay(0.1, 0.5, end=float("inf")),
        r"end must be a finite number >= 0, got inf",
    ),
    (lambda: S.natural_exp_decay(0.1, NAN), r"decay must be finite"),
    (lambda: S.inverse_time_decay(0.1, rate=-1.0), r"rate must be .*>= 0, got -1.0"),
    (lambda: S.polynomial_decay(0.1, 0.0, 0), r"steps must be a finite number > 0, got 0"),
    (lambda: S.polynomial_decay(0.1, 0.0, 10, power=-1.0), r"power must be .*> 0, got -1.0"),
    (lambda: S.linear(0.1, 0.0, -10), r"steps must be a finite number > 0, got -10"),
    (lambda: S.cosine_decay(0.1, 0), r"decay_steps must be a finite number > 0, got 0"),
    (lambda: S.cosine_decay(NAN, 10), r"peak must be a finite number >= 0, got nan"),
    (lambda: S.cosine_decay(0.1, 10, alpha=1.5), r"alpha must be in \[0.0, 1.0\], got 1.5"),
    (lambda: S.cosine_decay(0.1, 10, exponent=0.0), r"exponent must be .*> 0, got 0.0"),
    (lambda: S.tanh_decay(0.1, 100, lb=3.0, ub=-7.0), r"lb must be < ub, got 3.0 and -7.0"),
    (lambda: S.inverse_sqrt(0.1, warmup_steps=-1), r"warmup_steps must be .*>= 0, got -1"),
    (lambda: S.inverse_sqrt(0.1, 10, timescale=0.0), r"timescale must be .*> 0, got 0.0"),
    (lambda: S.inverse_sqrt(0.1, 10, cooldown_steps=5), r"cooldown_steps needs total_steps"),
    (
        lambda: S.warmup_stable_decay(0.1, 10, 10, 10, decay_shape="exponential"),
        r"final must be a finite number > 0, got 0.0",
    ),
    (lambda: S.warmup_stable_decay(0.1, 10, -1, 10), r"stable_steps must be .*>= 0, got -1"),
    (lambda: S.warmup_stable_decay(0.1, 1, 1, 1, decay_shape="step"), r"decay_shape must be"),
    (lambda: S.warm_restarts(0.1, 0), r"period must be a finite number > 0, got 0"),
    (lambda: S.warm_restarts(0.1, 10, 0.5), r"mult must be a finite number >= 1, got 0.5"),
    (lambda: S.warm_restarts(0.1, 10, decay=-0.1), r"decay must be .*>= 0, got -0.1"),
    (lambda: S.warm_restarts(0.1, 10, decay_mode="x"), r"decay_mode must be one of"),
    (lambda: S.cyclic(0.001, 0.1, 0), r"up_steps must be a finite number > 0, got 0"),
    (lambda: S.cyclic(0.001, 0.1, 10, -2), r"down_steps must be .*> 0, got -2"),
    (lambda: S.cyclic(0.001, 0.1, 10, mode="sine"), r"mode must be one of"),
    (lambda: S.cyclic(0.001, 0.1, 10, max_momentum=1.5), r"max_momentum must be in \[0.0, 1.0\]"),
    (lambda: S.one_cycle(0.1, 100, pct_start=1.5), r"pct_start must be in \[0.0, 1.0\], got 1.5"),
    (lambda: S.one_cycle(0.1, 0), r"total_steps must be a finite number > 0, got 0"),
    (lambda: S.one_cycle(0.1, 100, div_factor=0.0), r"div_factor must be .*> 0, got 0.0"),
    (lambda: S.one_cycle(0.1, 100, anneal="cos"), r"anneal must be one of"),
    (lambda: S.warmup(COS, -1), r"steps must be a finite number >= 0, got -1"),
    (lambda: S.warmup(COS, 10, shape="1-sqrt"), r"shape must be one of"),
    (lambda: S.warmup(COS, 10, shape="exponential"), r"init must be a finite number > 0, got 0.0"),
    (lambda: S.join([COS, COS], [10, 20]), r"boundaries must have len\(schedules\) - 1 = 1"),
    (lambda: S.join([COS, COS, COS], [20, 10]), r"boundaries must be sorted"),
    (lambda: S.join([COS, COS], [10], restart=(True,)), r"restart must be a bool or 2 bools"),
    (lambda: S.clip(COS, 0.5, 0.1), r"floor must be <= ceiling, got 0.5 and 0.1"),
    (lambda: S.scale(COS, NAN), r"factor must be a finite number >= 0, got nan"),
    (lambda: S.product([]), r"product needs at least one schedule"),
    (lambda: S.switch(2, [COS, COS]), r"index must be in \[0, 1\], got 2"),
    (lambda: S.random_uniform(KEY, 0.1, 0.01), r"low must be <= high, got 0.1 and 0.01"),
    (lambda: S.random_uniform(KEY, 0.0, 0.1, log_scale=True), r"low must be .*> 0, got 0.0"),
    (lambda: S.random_uniform(KEY, 0.01, 0.1, every=0), r"every must be .*> 0, got 0"),
    (lambda: S.noise(COS, KEY, pct=0.0), r"pct must be in \(0.0, 1.0\], got 0.0"),
    (lambda: S.noise(COS, KEY, kind="laplace"), r"kind must be one of"),
    (lambda: torch.ConstantLR(0.1, factor=2.0), r"factor must be in \[0.0, 1.0\], got 2.0"),
    (lambda: torch.LinearLR(0.1, start_factor=0.0), r"start_factor must be in \(0.0, 1.0\]"),
    (lambda: torch.StepLR(0.1, step_size=0), r"step_size must be a finite number > 0, got 0"),
    (lambda: torch.OneCycleLR(0.1, max_lr=0.1), r"total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda: torch.OneCycleLR(0.1, 0.1, 100, anneal_strategy="cosine"), r"anneal_strategy"),
    (lambda: torch.CyclicLR(0.001, 0.1, mode="sine"), r"mode must be triangular"),
    (lambda: torch.CosineAnnealingWarmRestarts(0.1, T_0=10, T_mult=0), r"T_mult must be .*>= 1"),
    (lambda: torch.ChainedScheduler(0.1, []), r"at least one scheduler"),
    (lambda: keras.ExponentialDecay(0.1, 0, 0.5), r"decay_steps must be .*> 0, got 0"),
    (lambda: keras.PiecewiseConstantDecay([1, 2], [0.1, 0.2]), r"values must have one more"),
    (lambda: timm.CosineLRScheduler(0.1, t_initial=0), r"t_initial must be .*> 0, got 0"),
    # compat constructors declare their arguments (issue 15)
    (lambda: torch.ChainedScheduler(NAN, [STEP]), r"^base_lr must be .*>= 0, got nan"),
    (lambda: torch.ConstantLR(0.1, 0.5, total_iters=NAN), r"^total_iters must be .*, got nan"),
    (lambda: torch.ConstantLR(0.1, 0.5, total_iters=2.5), r"^total_iters must be an integer"),
    (lambda: torch.SequentialLR(0.1, [STEP] * 3, [20, 10]), r"^milestones must be sorted"),
    (lambda: torch.SequentialLR(0.1, [STEP] * 2, [-1]), r"^milestones must be .*>= 0, got \[-1\]"),
    (lambda: torch.StepLR(0.1, step_size=2.5), r"^step_size must be an integer, got 2.5"),
    (lambda: torch.OneCycleLR(0.1, 0.1, 0), r"^Expected positive integer total_steps, but got 0"),
    (lambda: torch.OneCycleLR(0.1, 0.1, 10, div_factor=0.0), r"div_factor must be .*> 0, got 0.0"),
    (lambda: torch.CyclicLR(0.001, 0.1, step_size_up=0), r"^step_size_up must be .*> 0, got 0"),
    (lambda: torch.ReduceLROnPlateau(0.1, patience=1.5), r"^patience must be an integer, got 1.5"),
    (
        lambda: keras.CosineDecay(0.1, 100, warmup_target=NAN),
        r"^warmup_target must be a finite number >= 0, got nan",
    ),
    (lambda: keras.CosineDecay(0.1, 100, warmup_steps=-1), r"^warmup_steps must be .*, got -1"),
    (lambda: timm.StepLRScheduler(0.1, 10, warmup_t=-1), r"^warmup_t must be .*>= 0, got -1"),
    (
        lambda: timm.CosineLRScheduler(0.1, 100, noise_pct=0.0),
        r"^noise_pct must be in \(0.0, 1.0\]",
    ),
    (lambda: timm.PlateauLRScheduler(0.1, decay_rate=1.0), r"^decay_rate must be in \[0.0, 1.0\)"),
]

# Values of the wrong kind: a TypeError naming the argument and the value.
BAD_KIND = [
    (lambda: torch.Adam(betas=(True, True)), r"^betas\[0\] must be a number, got True"),
    (lambda: torch.NAdam(betas=(0.9, False)), r"^betas\[1\] must be a number, got False"),
    (lambda: torch.SGD(lr=True), r"^lr must be a number, got True"),
    (lambda: torch.StepLR(0.1, step_size=True), r"^step_size must be a number, got True"),
    (lambda: torch.LambdaLR(0.1, 0.5), r"^lr_lambda should be a function, but got float"),
    (lambda: keras.CosineDecay(0.1, "100"), r"^decay_steps must be a number, got '100'"),
    (lambda: timm.CosineLRScheduler(0.1, 100, cycle_limit=True), r"^cycle_limit must be a number"),
]

# A rate of -0.1 in every compat schedule (accepted before issue 15): (argument, call).
NEGATIVE_RATES = [
    ("base_lr", lambda: torch.LambdaLR(-0.1, lambda k: 1.0)),
    ("base_lr", lambda: torch.MultiplicativeLR(-0.1, lambda k: 0.9)),
    ("base_lr", lambda: torch.StepLR(-0.1, 10)),
    ("base_lr", lambda: torch.MultiStepLR(-0.1, [10])),
    ("base_lr", lambda: torch.ConstantLR(-0.1)),
    ("base_lr", lambda: torch.LinearLR(-0.1)),
    ("base_lr", lambda: torch.ExponentialLR(-0.1, 0.9)),
    ("base_lr", lambda: torch.PolynomialLR(-0.1)),
    ("base_lr", lambda: torch.CosineAnnealingLR(-0.1, 10)),
    ("eta_min", lambda: torch.CosineAnnealingLR(0.1, 10, eta_min=-0.1)),
    ("base_lr", lambda: torch.CosineAnnealingWarmRestarts(-0.1, 10)),
    ("base_lr", lambda: torch.CyclicLR(-0.1, 0.1)),
    ("max_lr", lambda: torch.CyclicLR(0.001, -0.1)),
    ("max_lr", lambda: torch.OneCycleLR(0.1, -0.1, 100)),
    ("base_lr", lambda: torch.SequentialLR(-0.1, [STEP], [])),
    ("base_lr", lambda: torch.ChainedScheduler(-0.1, [STEP])),
    ("base_lr", lambda: torch.ReduceLROnPlateau(-0.1)),
    ("initial_learning_rate", lambda: keras.ExponentialDecay(-0.1, 10, 0.5)),
    ("values", lambda: keras.PiecewiseConstantDecay([10], [0.1, -0.1])),
    ("initial_learning_rate", lambda: keras.PolynomialDecay(-0.1, 10)),
    ("end_learning_rate", lambda: keras.PolynomialDecay(0.1, 10, -0.1)),
    ("initial_learning_rate", lambda: keras.InverseTimeDecay(-0.1, 10, 0.5)),
    ("initial_learning_rate", lambda: keras.CosineDecay(-0.1, 10)),
    ("warmup_target", lambda: keras.CosineDecay(0.0, 10, warmup_target=-0.1)),
    ("initial_learning_rate", lambda: keras.CosineDecayRestarts(-0.1, 10)),
    ("base_lr", lambda: timm.CosineLRScheduler(-0.1, 100)),
    ("lr_min", lambda: timm.CosineLRScheduler(0.1, 100, lr_min=-0.1)),
    ("base_lr", lambda: timm.TanhLRScheduler(-0.1, 100)),
    ("base_lr", lambda: timm.PolyLRScheduler(-0.1, 100)),
    ("base_lr", lambda: timm.StepLRScheduler(-0.1, 10)),
    ("base_lr", lambda: timm.MultiStepLRScheduler(-0.1, [10])),
    ("warmup_lr_init", lambda: timm.MultiStepLRScheduler(0.1, [10], warmup_lr_init=-0.1)),
    ("base_lr", lambda: timm.PlateauLRScheduler(-0.1)),
]
BAD += [(call, rf"^{arg} must be .* >= 0, got .*-0.1") for arg, call in NEGATIVE_RATES]


@pytest.mark.parametrize("call, message", BAD_KIND, ids=[m for _, m in BAD_KIND])
def test_bad_kind_raises_named_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


@pytest.mark.parametrize("call, message", BAD, ids=[m for _, m in BAD])
def test_bad_value_raises_named_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_traced_values_are_not_checked():
    """Inside jit or vmap the same invalid values are tracers: no check, no error."""

    def build(decay_steps, pct_start, every):
        a = S.cosine_decay(0.1, decay_steps)(3)
        b = S.one_cycle(0.1, 100, pct_start)(3)
        c = S.step_decay(0.1, 0.5, every)(3)
        return a, b, c

    jax.jit(build)(0, 1.5, 0)
    jax.vmap(build)(jnp.array([0, 10]), jnp.array([1.5, 0.3]), jnp.array([0, 5]))


def test_concrete_jax_arrays_are_checked():
    with pytest.raises(ValueError, match=r"decay_steps must be a finite number > 0, got 0"):
        S.cosine_decay(0.1, jnp.array(0))
    with pytest.raises(ValueError, match=r"milestones"):
        S.multi_step(0.1, jnp.array([5, -1]), 0.5)


def test_growing_exp_range_cycle_is_low_at_its_foot_not_nan():
    """torch accepts CyclicLR(gamma > 1); its scale overflows, but where the cycle is at its
    foot (the triangle is 0) the rate is base_lr, as torch's formula gives before Python's
    float overflow, and elsewhere it is inf, never NaN."""
    s = torch.CyclicLR(0.001, 0.1, step_size_up=10, mode="exp_range", gamma=1.5)
    values = s(jnp.array([1000, 1005]))
    np.testing.assert_allclose(float(values[0]), 0.001, rtol=1e-6)
    assert float(values[1]) == float("inf")
