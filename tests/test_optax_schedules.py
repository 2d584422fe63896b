"""lrjax schedules agree with optax's wherever the semantics are the same.

Deliberate differences, not tested for equality here: optax's onecycle schedules put the
peak at int(pct_start * T) and the end at T, while `one_cycle` follows PyTorch (peak at
pct_start * T - 1, end at T - 1; the knots are compared through `piecewise_interpolate`
instead); optax's `sgdr_schedule` takes explicit per-cycle arguments with warmups, while
`warm_restarts` has geometric cycle lengths (compared below for equal cycles).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax.schedules as S

STEPS = jnp.arange(0, 1200, 3)

PAIRS = {
    "constant": (S.constant(0.07), optax.constant_schedule(0.07)),
    "cosine": (
        S.cosine_decay(0.1, 700, alpha=0.05, exponent=1.5),
        optax.cosine_decay_schedule(0.1, 700, alpha=0.05, exponent=1.5),
    ),
    "exponential": (
        S.exponential_decay(0.1, 0.6, 90, begin=40),
        optax.exponential_decay(0.1, 90, 0.6, transition_begin=40),
    ),
    "exponential_staircase_floor": (
        S.exponential_decay(0.1, 0.6, 90, begin=40, end=0.01, staircase=True),
        optax.exponential_decay(0.1, 90, 0.6, 40, staircase=True, end_value=0.01),
    ),
    "exponential_growth_ceiling": (
        S.exponential_decay(0.001, 1.5, 50, end=0.1),
        optax.exponential_decay(0.001, 50, 1.5, end_value=0.1),
    ),
    "polynomial": (
        S.polynomial_decay(0.1, 0.002, 800, power=3.0, begin=100),
        optax.polynomial_schedule(0.1, 0.002, 3.0, 800, transition_begin=100),
    ),
    "linear": (S.linear(0.0, 0.2, 500, begin=50), optax.linear_schedule(0.0, 0.2, 500, 50)),
    "piecewise_constant": (
        S.piecewise_constant([100, 400, 900], [0.1, 0.05, 0.005, 0.0025]),
        optax.piecewise_constant_schedule(0.1, {100: 0.5, 400: 0.1, 900: 0.5}),
    ),
    "multi_step": (
        S.multi_step(0.1, [100, 400, 900], 0.3),
        optax.piecewise_constant_schedule(0.1, {100: 0.3, 400: 0.3, 900: 0.3}),
    ),
    "step_decay": (
        S.step_decay(0.1, 0.7, 150),
        optax.exponential_decay(0.1, 150, 0.7, staircase=True),
    ),
    "piecewise_interpolate_linear": (
        S.piecewise_interpolate([0, 200, 600, 1000], [0.001, 0.1, 0.01, 0.0], "linear"),
        optax.piecewise_interpolate_schedule("linear", 0.001, {200: 100.0, 600: 0.1, 1000: 0.0}),
    ),
    "cosine_onecycle_knots": (
        S.piecewise_interpolate([0, 300, 1000], [0.1 / 25, 0.1, 0.1 / 25 / 1e4], "cosine"),
        optax.cosine_onecycle_schedule(1000, 0.1, pct_start=0.3),
    ),
    "warmup_cosine": (
        S.warmup(S.cosine_decay(0.1, 1000 - 150, 0.001, exponent=2.0), 150, init=0.01),
        optax.warmup_cosine_decay_schedule(0.01, 0.1, 150, 1000, 0.001, exponent=2.0),
    ),
    "warmup_exponential": (
        S.warmup(S.exponential_decay(0.1, 0.5, 200, begin=30, end=0.005), 100, init=0.0),
        optax.warmup_exponential_decay_schedule(0.0, 0.1, 100, 200, 0.5, 30, end_value=0.005),
    ),
    "warmup_constant": (
        S.warmup(S.constant(0.1), 80, init=0.001),
        optax.warmup_constant_schedule(0.001, 0.1, 80),
    ),
    "join": (
        S.join([S.linear(0.0, 0.1, 100), S.cosine_decay(0.1, 900)], [100]),
        optax.join_schedules(
            [optax.linear_schedule(0.0, 0.1, 100), optax.cosine_decay_schedule(0.1, 900)], [100]
        ),
    ),
    "sgdr_equal_cycles": (
        S.warm_restarts(0.1, 300, 1, final=0.002),
        optax.sgdr_schedule(
            [dict(init_value=0.1, peak_value=0.1, decay_steps=300, warmup_steps=0, end_value=0.002)]
            * 4
        ),
    ),
}


@pytest.mark.parametrize("name", PAIRS)
def test_schedule_equals_optax(name):
    ours, theirs = PAIRS[name]
    want = jax.vmap(theirs)(STEPS)
    # Equal formulas in different float32 arrangements differ by ~1e-7 of the curve's
    # scale on small values (optax's linear goes through (init - end) * (1 - t/T) + end).
    np.testing.assert_allclose(ours(STEPS), want, rtol=2e-6, atol=1e-7 * np.max(np.abs(want)))


@pytest.mark.parametrize("name", ["cosine", "warmup_cosine", "piecewise_constant", "join"])
def test_optax_optimizer_driven_by_lrjax_schedule(name):
    """An lrjax schedule inside optax.adamw gives optax's own trajectory."""
    ours, theirs = PAIRS[name]

    def run(schedule):
        opt = optax.adamw(schedule, weight_decay=1e-2)
        params = jnp.array([1.0, -2.0, 3.0])

        def step(carry, _):
            params, state = carry
            grads = params**3 - params
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), params

        _, trajectory = jax.lax.scan(step, (params, opt.init(params)), None, length=300)
        return trajectory

    np.testing.assert_allclose(run(ours), run(theirs), rtol=1e-6, atol=1e-7)


def test_inject_hyperparams_accepts_lrjax_schedule():
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=S.step_decay(0.1, 0.5, 2))
    params = jnp.zeros(2)
    state = opt.init(params)
    seen = []
    for _ in range(5):
        _, state = opt.update(jnp.ones(2), state, params)
        seen.append(float(state.hyperparams["learning_rate"]))
    # inject_hyperparams reports the rate used by the update just made: sched(count - 1).
    np.testing.assert_allclose(seen, [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-7)
