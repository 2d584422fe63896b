"""optax's own schedule tests, run against lrjax's schedules.

Source: ``optax/schedules/_schedule_test.py`` of google-deepmind/optax, release 0.2.8
(tag v0.2.8, commit 107e9ad20ca62bcbee1a8c016daab71c690a678c; identical to the copy
installed with optax 0.2.8). Inputs and expected values are optax's.

Mapping (``S = lrjax.schedules``): constant_schedule -> S.constant; polynomial_schedule ->
S.polynomial_decay; piecewise_constant_schedule -> S.piecewise_constant with the scales
multiplied out into absolute values; exponential_decay -> S.exponential_decay (argument order
init, rate, steps); cosine_decay_schedule -> S.cosine_decay(alpha=...);
warmup_cosine_decay_schedule -> S.warmup(S.cosine_decay(...)); sgdr_schedule -> S.join of
those warmups; piecewise_interpolate_schedule -> S.piecewise_interpolate with absolute knots;
cosine_onecycle_schedule -> S.one_cycle (PyTorch knots, arguments shifted onto optax's);
linear_onecycle_schedule -> S.piecewise_interpolate (its pct_final knot has no one_cycle
counterpart); the optax optimizers that take a schedule -> the lrjax optimizer of that name.

Not applicable:
- ScheduleAsLearningRateTest.test_optimization for adabelief, adafactor (both cases),
  adamaxw, adan, fromage, lamb, lars, lion, noisy_sgd, novograd, optimistic_adam,
  optimistic_adam_v2, optimistic_gradient_descent, polyak_sgd, rprop, sign_sgd, signum, sm3,
  yogi: lrjax has no optimizer of that kind (adamax has no decoupled weight decay).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S


def _values(schedule, num_steps):
    """The schedule at steps 0 .. num_steps - 1, one jitted call."""
    return np.asarray(jax.jit(schedule)(jnp.arange(num_steps)))


def _absolute(init, boundaries_and_scales):
    """optax's ``{step: scale}`` as sorted steps and the running products init * scales."""
    steps = sorted(boundaries_and_scales)
    values = [init]
    for step in steps:
        values.append(values[-1] * boundaries_and_scales[step])
    return steps, values


def _piecewise_interpolate(shape, init, boundaries_and_scales=None):
    """optax's piecewise_interpolate_schedule: a knot (0, init), then one per boundary."""
    steps, values = _absolute(init, boundaries_and_scales or {})
    return S.piecewise_interpolate([0, *steps], values, shape)


def _warmup_cosine(init, peak, warmup_steps, decay_steps, end=0.0, exponent=None):
    """optax's warmup_cosine_decay_schedule. Its decay_steps include the warmup, and its
    floor is alpha * peak with alpha = end / peak, or 0 when peak == 0."""
    final = 0.0 if peak == 0 else end
    cosine = S.cosine_decay(peak, decay_steps - warmup_steps, final=final, exponent=exponent)
    return S.warmup(cosine, warmup_steps, init=init)


class TestConstant:
    def test_constant(self):
        np.testing.assert_allclose(_values(S.constant(10.0), 15), np.full(15, 10.0), atol=1e-3)


class TestPolynomial:
    def test_linear(self):
        schedule = S.polynomial_decay(10.0, 20.0, 10, power=1)
        expected = np.array(list(range(10, 20)) + [20] * 5, dtype=np.float32)
        np.testing.assert_allclose(_values(schedule, 15), expected, atol=1e-3)

    @pytest.mark.parametrize("num_steps", [-1, 0])
    def test_zero_steps_schedule(self, num_steps):
        # lrjax differs: a step count <= 0 raises ValueError naming it (docs/concepts/schedules.md,
        # "Validation"); optax logs and returns the constant init_value.
        with pytest.raises(ValueError, match="steps must be a finite number > 0"):
            S.polynomial_decay(10.0, 20.0, num_steps, power=1)

    def test_nonlinear(self):
        schedule = S.polynomial_decay(25.0, 10.0, 10, power=2)
        expected = np.array([10.0 + 15.0 * (1.0 - n / 10) ** 2 for n in range(10)] + [10] * 5)
        np.testing.assert_allclose(_values(schedule, 15), expected, atol=1e-3)

    def test_with_decay_begin(self):
        schedule = S.polynomial_decay(30.0, 10.0, 10, power=2, begin=4)
        expected = np.array(
            [30.0] * 4 + [10.0 + 20.0 * (1.0 - n / 10) ** 2 for n in range(10)] + [10] * 6
        )
        np.testing.assert_allclose(_values(schedule, 20), expected, atol=1e-3)


class TestPiecewiseConstant:
    def test_positive(self):
        schedule = S.piecewise_constant(*_absolute(0.1, {3: 2.0, 6: 0.5}))
        expected = np.array([0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1])
        np.testing.assert_allclose(_values(schedule, 10), expected, atol=1e-3)

    def test_negative(self):
        # lrjax differs: a negative rate is refused at construction (optax accepts it).
        with pytest.raises(ValueError, match=r"values must be a finite number >= 0"):
            S.piecewise_constant(*_absolute(-0.1, {3: 2.0, 6: 0.5}))
        schedule = S.piecewise_constant(*_absolute(0.1, {3: 2.0, 6: 0.5}))
        expected = np.array([0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1])
        np.testing.assert_allclose(_values(schedule, 10), expected, atol=1e-3)


def _staircased(count, transition_steps, staircase):
    p = count / transition_steps
    return np.floor(p) if staircase else p


class TestExponential:
    @pytest.mark.parametrize("staircase", [False, True])
    def test_constant_schedule(self, staircase):
        schedule = S.exponential_decay(1.0, 1.0, 15, staircase=staircase)
        np.testing.assert_allclose(_values(schedule, 15), np.ones(15), atol=1e-3)

    @pytest.mark.parametrize("staircase", [False, True])
    @pytest.mark.parametrize("transition_steps", [-1, 0])
    def test_nonvalid_transition_steps(self, staircase, transition_steps):
        # lrjax differs: a step count <= 0 raises ValueError naming it (docs/concepts/schedules.md,
        # "Validation"); optax logs and returns the constant init_value.
        with pytest.raises(ValueError, match="steps must be a finite number > 0"):
            S.exponential_decay(1.0, 1.0, transition_steps, staircase=staircase)

    @pytest.mark.parametrize("staircase", [False, True])
    def test_nonvalid_decay_rate(self, staircase):
        # lrjax differs: rate 0 follows the formula 0 ** p (as Keras and torch's
        # ExponentialLR), where optax warns and returns the constant init_value.
        schedule = S.exponential_decay(1.0, 0.0, 2, staircase=staircase)
        exponent = np.floor(np.arange(15) / 2) if staircase else np.arange(15) / 2
        np.testing.assert_array_equal(_values(schedule, 15), np.where(exponent == 0, 1.0, 0.0))

    @pytest.mark.parametrize(
        "staircase, transition_begin", [(False, 0), (True, 0), (False, 5), (True, 5)]
    )
    def test_exponential(self, staircase, transition_begin):
        num_steps, transition_steps, decay_rate = 15, 2, 2.0
        schedule = S.exponential_decay(
            1.0, decay_rate, transition_steps, begin=transition_begin, staircase=staircase
        )
        expected = np.array(
            [1.0] * transition_begin
            + [
                decay_rate ** _staircased(count, transition_steps, staircase)
                for count in range(num_steps)
            ],
            dtype=np.float32,
        )
        np.testing.assert_allclose(
            _values(schedule, num_steps + transition_begin), expected, atol=1e-3
        )

    @pytest.mark.parametrize(
        "decay_rate, end_value, staircase",
        [
            (0.2, 0.1, False),
            (1.0, 0.1, False),
            (2.0, 3.0, False),
            (0.2, 0.1, True),
            (1.0, 0.1, True),
            (2.0, 3.0, True),
        ],
    )
    def test_end_value_with_staircase(self, decay_rate, end_value, staircase):
        num_steps, transition_steps, transition_begin = 11, 2, 3
        schedule = S.exponential_decay(
            1.0,
            decay_rate,
            transition_steps,
            begin=transition_begin,
            end=end_value,
            staircase=staircase,
        )
        expected = np.array(
            [1.0] * transition_begin
            + [
                decay_rate ** _staircased(count, transition_steps, staircase)
                for count in range(num_steps)
            ],
            dtype=np.float32,
        )
        if decay_rate < 1.0:
            expected = np.maximum(expected, end_value)
        elif decay_rate > 1.0:
            expected = np.minimum(expected, end_value)
        else:
            # lrjax differs: with rate == 1 the value stays init and end does not apply (see the
            # exponential_decay docstring); optax clips the constant init to end_value.
            pass
        got = _values(schedule, num_steps + transition_begin)
        np.testing.assert_allclose(got, expected, atol=1e-3)

    def test_immutable_count(self):
        schedule = S.exponential_decay(32.0, 0.5, 1)
        np.testing.assert_allclose(_values(schedule, 5), [32, 16, 8, 4, 2], atol=1e-3)


def _cosine_multipliers(fractions):
    return 0.5 + 0.5 * np.cos(np.pi * np.array(fractions))


_FIVE_STEPS_THEN_HOLD = [0.0, 0.2, 0.4, 0.6, 0.8] + [1.0] * 7


class TestCosineDecay:
    def test_decay_count_smaller_count(self):
        schedule = S.cosine_decay(0.1, 10, alpha=0.0)
        expected = 0.1 * _cosine_multipliers([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
        np.testing.assert_allclose(_values(schedule, 10), expected, atol=1e-3)

    def test_decay_count_greater_count(self):
        schedule = S.cosine_decay(0.1, 5, alpha=0.0)
        expected = 0.1 * _cosine_multipliers(_FIVE_STEPS_THEN_HOLD)
        np.testing.assert_allclose(_values(schedule, 12), expected, atol=1e-3)

    def test_decay_count_greater_count_with_alpha(self):
        schedule = S.cosine_decay(0.1, 5, alpha=0.1)
        expected = 0.1 * (0.9 * _cosine_multipliers(_FIVE_STEPS_THEN_HOLD) + 0.1)
        np.testing.assert_allclose(_values(schedule, 12), expected, atol=1e-3)

    def test_with_exponent(self):
        schedule = jax.jit(S.cosine_decay(0.1, 100, alpha=0.0, exponent=2))
        output = schedule(np.array([0, 10, 50, 75, 100]))
        expected = np.array([0.1, 0.09516553580760956, 0.025, 0.0021446612663567066, 0.0])
        np.testing.assert_allclose(output, expected, rtol=1e-6, atol=1e-8)

    def test_with_giant_int_steps(self):
        # decay_steps does not fit in int32.
        schedule = jax.jit(S.cosine_decay(1000.0, int(1e10), alpha=0.0, exponent=1))
        np.testing.assert_allclose(schedule(int(1e9)), 975.52826)


class TestWarmupCosineDecay:
    @pytest.mark.parametrize(
        "init_value, peak_value, end_value",
        [(10, 0.5, 1e-4), (5, 3, 0.0)],
        ids=["with end value", "without end value"],
    )
    def test_limits(self, init_value, peak_value, end_value):
        schedule = jax.jit(_warmup_cosine(init_value, peak_value, 100, 1000, end_value))
        np.testing.assert_allclose(init_value, schedule(0))
        np.testing.assert_allclose(peak_value, schedule(100))
        np.testing.assert_allclose(end_value, schedule(1000), rtol=1e-3)

    def test_with_exponent(self):
        # lrjax differs: a negative end rate is refused at construction (optax accepts it),
        # so the peer's values are checked against optax itself with end = 0.
        with pytest.raises(ValueError, match=r"final must be a finite number >= 0, got -3.0"):
            _warmup_cosine(0.2, 1.21, 50, 100, end=-3.0, exponent=2)
        schedule = jax.jit(_warmup_cosine(0.2, 1.21, 50, 100, end=0.0, exponent=2))
        steps = np.array([0, 10, 50, 75, 100])
        peer = optax.warmup_cosine_decay_schedule(0.2, 1.21, 50, 100, 0.0, exponent=2)
        np.testing.assert_allclose(schedule(steps), peer(steps), rtol=1e-6, atol=1e-8)

    def test_with_exponent_peer_values(self):
        # The peer's values up to the peak do not depend on the end rate.
        schedule = jax.jit(_warmup_cosine(0.2, 1.21, 50, 100, end=0.0, exponent=2))
        output = schedule(np.array([0, 10, 50]))
        expected = np.array([0.20000004768371582, 0.4020000100135803, 1.2100000381469727])
        np.testing.assert_allclose(output, expected, rtol=1e-6, atol=1e-8)

    def test_zero_peak_value(self):
        schedule = jax.jit(_warmup_cosine(0.2, 0, 50, 100, end=-3.0, exponent=2))
        output = schedule(np.array([0, 10, 50, 75, 100]))
        np.testing.assert_allclose(output, [0.2, 0.16, 0.0, 0.0, 0.0], rtol=1e-6, atol=1e-8)

    def test_monotonicity_and_exponent_ordering(self):
        init, peak, end = 0.0, 1.0, 0.1
        warmup_steps, decay_steps = 5, 25
        steps = np.arange(decay_steps + 1)
        vals = np.asarray(
            jax.jit(_warmup_cosine(init, peak, warmup_steps, decay_steps, end, 1.0))(steps)
        )
        vals2 = np.asarray(
            jax.jit(_warmup_cosine(init, peak, warmup_steps, decay_steps, end, 2.0))(steps)
        )

        assert np.all(np.diff(vals[: warmup_steps + 1]) > 0)  # warmup increases
        assert vals[warmup_steps] == pytest.approx(peak, abs=5e-7)  # peak at the boundary
        assert np.all(np.diff(vals[warmup_steps:]) <= 0)  # the cosine never increases
        assert vals[-1] == pytest.approx(end, abs=5e-7)
        # The squared cosine lies on or below the plain one.
        assert np.all(vals2[warmup_steps:] <= vals[warmup_steps:] + 1e-12)

    def test_raises_when_decay_equals_warmup(self):
        with pytest.raises(ValueError):
            _warmup_cosine(0.2, 1.2, 10, 10, end=0.0)


class TestSGDR:
    @pytest.mark.parametrize(
        "lr0, lr1, lr2",
        [(1.6, 0.8, 0.4), (1.6, 1.6, 1.6)],
        ids=["with step decay", "without step_decay"],
    )
    def test_limits(self, lr0, lr1, lr2):
        # optax's sgdr_schedule is a join of warmup-cosine cycles
        # with explicit arguments; S.warm_restarts (geometric cycles, no warmup) cannot express it.
        cycles = [(2000, lr0), (3000, lr1), (5000, lr2)]
        schedules = [_warmup_cosine(0, lr, 500, steps, end=0.0) for steps, lr in cycles]
        schedule = jax.jit(S.join(schedules, [2000, 5000]))
        np.testing.assert_allclose(lr0, schedule(500))
        np.testing.assert_allclose(lr1, schedule(2500))
        np.testing.assert_allclose(lr2, schedule(5500))


class TestPiecewiseInterpolate:
    def test_linear_piecewise(self):
        schedule = _piecewise_interpolate("linear", 200.0, {5: 1.5, 10: 0.25})
        expected = [200.0, 220.0, 240.0, 260.0, 280.0, 300.0, 255.0, 210.0, 165.0, 120.0]
        expected += [75.0, 75.0, 75.0]
        np.testing.assert_allclose(_values(schedule, 13), expected, atol=1e-3)

    def test_cos_piecewise(self):
        schedule = _piecewise_interpolate("cosine", 400.0, {5: 1.2, 3: 0.6, 7: 1.0})
        expected = [400.0, 360.0, 280.0, 240.0, 264.0, 288.0, 288.0, 288.0, 288.0]
        np.testing.assert_allclose(_values(schedule, 9), expected, atol=1e-3)

    def test_empty_dict(self):
        # No boundaries leaves a single knot (0, 13.0): the constant 13.
        schedule = _piecewise_interpolate("linear", 13.0, {})
        np.testing.assert_allclose(_values(schedule, 5), [13.0] * 5, atol=1e-3)

    def test_no_dict(self):
        schedule = _piecewise_interpolate("cosine", 17.0)
        np.testing.assert_allclose(_values(schedule, 3), [17.0] * 3, atol=1e-3)

    @pytest.mark.parametrize(
        "shape, boundaries_and_scales", [("linar", None), ("", {5: 3.0}), (None, {})]
    )
    def test_invalid_type(self, shape, boundaries_and_scales):
        with pytest.raises(ValueError, match="shape must be one of"):
            _piecewise_interpolate(shape, 13.0, boundaries_and_scales)

    def test_invalid_scale(self):
        # The negative scale makes the knot values 13 and -39.
        with pytest.raises(ValueError):
            _piecewise_interpolate("linear", 13.0, {5: -3})

    def test_zero_interval_size(self):
        schedule = _piecewise_interpolate("linear", 13.0, {0: 2.0, 5: 3.0})
        values = _values(schedule, 6)
        assert np.all(np.isfinite(values))
        assert values[0] == pytest.approx(26.0)  # 13 * 2
        assert values[5] == pytest.approx(78.0)  # 26 * 3


class TestOneCycle:
    def test_linear(self):
        # optax's knots: (0, 100), (3, 1000), (7, 100), (10, 1).
        # lrjax differs: S.one_cycle's three phases are PyTorch's (rise and first fall of equal
        # length), so optax's separate pct_final knot is given to piecewise_interpolate.
        schedule = S.piecewise_interpolate([0, 3, 7, 10], [100.0, 1000.0, 100.0, 1.0], "linear")
        expected = [100.0, 400.0, 700.0, 1000.0, 775.0, 550.0, 325.0, 100.0, 67.0, 34.0, 1.0, 1.0]
        np.testing.assert_allclose(_values(schedule, 12), expected, atol=1e-3)

    def test_cosine(self):
        # optax's transition_steps=5, pct_start=0.4 put the peak at
        # int(0.4 * 5) = 2 and the end at 5.
        # lrjax differs: one_cycle puts them at pct_start * T - 1 and T - 1 (PyTorch), so optax's
        # knots are T = 6, pct_start = 0.5.
        schedule = S.one_cycle(
            1000.0, 6, pct_start=0.5, div_factor=10.0, final_div_factor=100.0, anneal="cosine"
        )
        expected = [100.0, 550.0, 1000.0, 750.25, 250.75, 1.0, 1.0]
        np.testing.assert_allclose(_values(schedule, 7), expected, atol=1e-3)

    @pytest.mark.parametrize("anneal", ["cosine", "linear"])
    def test_nonpositive_transition_steps(self, anneal):
        with pytest.raises(ValueError):
            S.one_cycle(5.0, 0, anneal=anneal)


# The entries of optax's alias_test._OPTIMIZERS_UNDER_TEST that have an lrjax optimizer
# (amsgrad and nadamw are options of lrjax.adam and lrjax.nadam).
_OPTIMIZERS_UNDER_TEST = [
    ("adadelta", lrjax.adadelta, {"learning_rate": 0.1}),
    ("adadelta", lrjax.adadelta, {}),
    ("adagrad", lrjax.adagrad, {"learning_rate": 1.0}),
    ("adam", lrjax.adam, {"learning_rate": 1e-1}),
    ("adamax", lrjax.adamax, {"learning_rate": 1e-1}),
    ("adamw", lrjax.adamw, {"learning_rate": 1e-1}),
    ("amsgrad", lambda **kw: lrjax.adam(amsgrad=True, **kw), {"learning_rate": 1e-1}),
    ("nadam", lrjax.nadam, {"learning_rate": 1e-2}),
    (
        "nadamw",
        lambda **kw: lrjax.nadam(
            momentum_decay=None, weight_decay=1e-4, decoupled_weight_decay=True, **kw
        ),
        {"learning_rate": 1e-2},
    ),
    ("radam", lrjax.radam, {"learning_rate": 5e-3}),
    ("rmsprop", lrjax.rmsprop, {"learning_rate": 5e-3}),
    ("rmsprop", lrjax.rmsprop, {"learning_rate": 5e-3, "momentum": 0.9}),
    ("sgd", lrjax.sgd, {"learning_rate": 1e-3, "momentum": 0.9}),
]


def _parabola_descent(opt, num_steps=10):
    """optax's alias_test parabola: params after num_steps updates of opt."""
    params = jnp.array([-1.0, 10.0, 1.0], dtype=jnp.float32)
    target = jnp.array([1.0, -1.0, 1.0], dtype=jnp.float32)

    def step(carry, _):
        params, state = carry
        grads = jax.grad(lambda p: jnp.sum(jnp.abs(p - target) ** 2))(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=num_steps)
    return params


class TestScheduleAsLearningRate:
    @pytest.mark.parametrize(
        "opt_name, make, opt_kwargs",
        _OPTIMIZERS_UNDER_TEST,
        ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(_OPTIMIZERS_UNDER_TEST)],
    )
    def test_optimization(self, opt_name, make, opt_kwargs):
        with_schedule = make(**dict(opt_kwargs, learning_rate=S.constant(1e-3)))
        with_lr = make(**dict(opt_kwargs, learning_rate=1e-3))
        got, want = jax.jit(
            lambda: (_parabola_descent(with_schedule), _parabola_descent(with_lr))
        )()
        assert not np.allclose(want, [-1.0, 10.0, 1.0]), opt_name  # the parameters did move
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0.0)
