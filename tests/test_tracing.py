"""Every numeric hyperparameter traces: vmap equals a loop, jit equals eager, and a jitted
function taking a schedule compiles once for all hyperparameter values."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax.schedules as S
from lrjax.compat import keras, timm, torch

KEY = jax.random.key(0)
# float32: a vmapped program may fuse and vectorize differently from the unbatched one,
# which moves results by a few ulps, amplified near 1 + cos(pi x) = 0 (4e-6 relative seen).
RTOL, ATOL = 1e-5, 1e-8
STEPS = jnp.arange(0, 240, 7)


def _rsqrt(k, scale):
    return scale / jnp.sqrt(k + 1.0)


def _inverse_sqrt(
    peak=0.1, warmup_steps=10, timescale=20.0, init=0.0, cooldown_steps=20, total_steps=150
):
    return S.inverse_sqrt(peak, warmup_steps, timescale, init, cooldown_steps, total_steps)


def _cyclic(low=0.001, high=0.1, up_steps=10, down_steps=5, gamma=0.99):
    return S.cyclic(low, high, up_steps, down_steps, gamma, mode="exp_range")


def _cos(peak=1.0, decay_steps=100, final=0.0):
    return S.cosine_decay(peak, decay_steps, final)


# name -> (builder taking hyperparameters as keywords, {hyperparameter: three values}).
# Every numeric argument of every schedule appears once; step counts and boundaries too.
FAMILIES = {
    "constant": (S.constant, {"value": [0.1, 0.2, 0.3]}),
    "step_decay": (
        lambda init=0.1, factor=0.5, every=30: S.step_decay(init, factor, every),
        {"init": [0.1, 0.2, 0.3], "factor": [0.2, 0.5, 0.9], "every": [7, 30, 61]},
    ),
    "multi_step": (
        lambda init=0.1, milestones=(20, 90), factor=0.5: S.multi_step(init, milestones, factor),
        {
            "init": [0.1, 0.2, 0.3],
            "milestones": [[5, 9], [20, 90], [0, 200]],
            "factor": [0.1, 0.5, 0.9],
        },
    ),
    "piecewise_constant": (
        lambda boundaries=(20, 90), values=(0.1, 0.05, 0.01): S.piecewise_constant(
            boundaries, values
        ),
        {
            "boundaries": [[5, 9], [20, 90], [0, 200]],
            "values": [[1.0, 2.0, 3.0], [0.1, 0.05, 0.01], [3.0, 2.0, 1.0]],
        },
    ),
    "piecewise_interpolate": (
        lambda boundaries=(0.0, 40.0, 200.0), values=(0.0, 1.0, 0.1): S.piecewise_interpolate(
            boundaries, values, "cosine"
        ),
        {
            "boundaries": [[0.0, 10.0, 100.0], [0.0, 40.0, 200.0], [5.5, 6.5, 7.5]],
            "values": [[0.0, 1.0, 0.1], [1.0, 1.0, 0.0], [0.3, 0.2, 0.1]],
        },
    ),
    "exponential_decay": (
        lambda init=0.1, rate=0.5, steps=20, begin=5, end=0.01: S.exponential_decay(
            init, rate, steps, begin, end
        ),
        {
            "init": [0.1, 0.2, 0.3],
            "rate": [0.3, 0.5, 2.0],
            "steps": [3, 20, 50],
            "begin": [0, 5, 100],
            "end": [0.001, 0.01, 0.05],
        },
    ),
    "exponential_decay_staircase": (
        lambda steps=20: S.exponential_decay(0.1, 0.5, steps, staircase=True),
        {"steps": [3, 20, 50]},
    ),
    "natural_exp_decay": (
        lambda init=0.1, decay=0.05, steps=1, begin=0, end=0.001: S.natural_exp_decay(
            init, decay, steps, begin, end
        ),
        {
            "init": [0.1, 0.2, 0.3],
            "decay": [0.01, 0.05, -0.01],
            "steps": [1, 4, 9],
            "begin": [0, 3, 50],
            "end": [0.001, 0.01, 0.2],
        },
    ),
    "inverse_time_decay": (
        lambda init=0.1, rate=0.5, steps=10, begin=0: S.inverse_time_decay(
            init, rate, steps, begin
        ),
        {
            "init": [0.1, 0.2, 0.3],
            "rate": [0.1, 0.5, 1.0],
            "steps": [1, 10, 33],
            "begin": [0, 5, 50],
        },
    ),
    "polynomial_decay": (
        lambda init=0.1, end=0.001, steps=100, power=2.0, begin=0: S.polynomial_decay(
            init, end, steps, power, begin
        ),
        {
            "init": [0.1, 0.2, 0.3],
            "end": [0.0, 0.001, 0.05],
            "steps": [10, 100, 300],
            "power": [0.5, 1.0, 2.0],
            "begin": [0, 5, 50],
        },
    ),
    "polynomial_decay_cycle": (
        lambda steps=60: S.polynomial_decay(0.1, 0.001, steps, cycle=True),
        {"steps": [7, 60, 100]},
    ),
    "linear": (
        lambda init=0.0, end=0.1, steps=100, begin=0: S.linear(init, end, steps, begin),
        {
            "init": [0.0, 0.5, 1.0],
            "end": [0.1, 0.0, 2.0],
            "steps": [10, 100, 300],
            "begin": [0, 5, 50],
        },
    ),
    "cosine_decay": (
        lambda peak=0.1, decay_steps=100, final=0.001, exponent=1.0: S.cosine_decay(
            peak, decay_steps, final, exponent
        ),
        {
            "peak": [0.1, 0.2, 0.0],
            "decay_steps": [10, 100, 300],
            "final": [0.0, 0.001, 0.05],
            "exponent": [0.5, 1.0, 2.0],
        },
    ),
    "tanh_decay": (
        lambda init=0.1, steps=100, final=0.0, lb=-7.0, ub=3.0: S.tanh_decay(
            init, steps, final, lb, ub
        ),
        {
            "init": [0.1, 0.2, 0.3],
            "steps": [10, 100, 300],
            "final": [0.0, 0.001, 0.05],
            "lb": [-7.0, -3.0, -1.0],
            "ub": [3.0, 1.0, 5.0],
        },
    ),
    "inverse_sqrt": (
        _inverse_sqrt,
        {
            "peak": [0.1, 0.2, 0.3],
            "warmup_steps": [0, 10, 50],
            "timescale": [1.0, 20.0, 100.0],
            "init": [0.0, 0.01, 0.1],
            "cooldown_steps": [0, 20, 100],
            "total_steps": [50, 150, 1000],
        },
    ),
    "warmup_stable_decay": (
        lambda peak=0.1, warmup_steps=10, stable_steps=50, decay_steps=40, init=0.0, final=0.001: (
            S.warmup_stable_decay(
                peak,
                warmup_steps,
                stable_steps,
                decay_steps,
                init,
                final,
                decay_shape="exponential",
            )
        ),
        {
            "peak": [0.1, 0.2, 0.3],
            "warmup_steps": [0, 10, 50],
            "stable_steps": [0, 50, 100],
            "decay_steps": [0, 40, 100],
            "init": [0.0, 0.01, 0.1],
            "final": [0.001, 0.01, 0.05],
        },
    ),
    "warm_restarts": (
        lambda peak=0.1, period=10, mult=2, final=0.001, decay=0.8, cycles=3, k_decay=1.0: (
            S.warm_restarts(peak, period, mult, final, decay, cycles, k_decay)
        ),
        {
            "peak": [0.1, 0.2, 0.3],
            "period": [3, 10, 31],
            "mult": [1, 2, 3],
            "final": [0.0, 0.001, 0.05],
            "decay": [0.5, 0.8, 1.0],
            "cycles": [1, 3, 100],
            "k_decay": [0.5, 1.0, 2.0],
        },
    ),
    "warm_restarts_float_mult": (
        lambda mult=1.5: S.warm_restarts(0.1, 10, mult),
        {"mult": [1.0, 1.5, 2.5]},
    ),
    "cyclic": (
        _cyclic,
        {
            "low": [0.001, 0.01, 0.0],
            "high": [0.1, 0.2, 0.05],
            "up_steps": [3, 10, 40],
            "down_steps": [1, 5, 40],
            "gamma": [0.9, 0.99, 1.0],
        },
    ),
    "cyclic_momentum": (
        lambda base_momentum=0.8, max_momentum=0.9: (
            S.cyclic(
                0.001, 0.1, 10, base_momentum=base_momentum, max_momentum=max_momentum
            ).momentum
        ),
        {"base_momentum": [0.5, 0.8, 0.85], "max_momentum": [0.9, 0.95, 0.99]},
    ),
    "one_cycle": (
        lambda peak=0.1, total_steps=100, pct_start=0.25, div_factor=25.0, final_div_factor=1e4: (
            S.one_cycle(
                peak, total_steps, pct_start, div_factor, final_div_factor, three_phase=True
            )
        ),
        {
            "peak": [0.1, 0.2, 0.3],
            "total_steps": [30, 100, 250],
            "pct_start": [0.1, 0.25, 0.45],
            "div_factor": [5.0, 25.0, 100.0],
            "final_div_factor": [10.0, 1e4, 1e2],
        },
    ),
    "one_cycle_momentum": (
        lambda base_momentum=0.85, max_momentum=0.95: (
            S.one_cycle(0.1, 100, base_momentum=base_momentum, max_momentum=max_momentum).momentum
        ),
        {"base_momentum": [0.5, 0.85, 0.9], "max_momentum": [0.9, 0.95, 0.99]},
    ),
    "warmup": (
        lambda steps=10, init=0.0, target=0.5, peak=1.0: S.warmup(_cos(peak), steps, init, target),
        {
            "steps": [0, 10, 50],
            "init": [0.0, 0.01, 0.1],
            "target": [0.5, 1.0, 2.0],
            "peak": [0.5, 1.0, 2.0],
        },
    ),
    "join": (
        lambda boundaries=(10, 60), peak=1.0: S.join(
            [S.linear(0.0, peak, 10), _cos(peak), S.constant(0.01)], boundaries
        ),
        {"boundaries": [[0, 5], [10, 60], [100, 100]], "peak": [0.5, 1.0, 2.0]},
    ),
    "clip": (
        lambda floor=0.01, ceiling=0.5: S.clip(S.exponential_decay(1.0, 0.9), floor, ceiling),
        {"floor": [0.0, 0.01, 0.1], "ceiling": [0.2, 0.5, 1.0]},
    ),
    "scale": (lambda factor=0.3: S.scale(_cos(), factor), {"factor": [0.1, 0.3, 3.0]}),
    "product": (
        lambda factor=0.5, every=20: S.product([_cos(), S.step_decay(1.0, factor, every)]),
        {"factor": [0.1, 0.5, 0.9], "every": [5, 20, 50]},
    ),
    "switch": (
        lambda index=1: S.switch(index, [_cos(), S.step_decay(1.0, 0.5, 20), S.constant(0.3)]),
        {"index": [0, 1, 2]},
    ),
    "anneal_to": (
        lambda value=0.01, start=50, steps=10, peak=1.0: S.anneal_to(
            _cos(peak), value, start, steps
        ),
        {
            "value": [0.0, 0.01, 0.5],
            "start": [0, 50, 120],
            "steps": [0, 10, 33],
            "peak": [0.5, 1.0, 2.0],
        },
    ),
    "from_fn": (
        lambda scale=0.1: S.from_fn(_rsqrt, {"scale": scale}),
        {"scale": [0.1, 0.5, 1.0]},
    ),
    "random_uniform": (
        lambda key=KEY, low=1e-3, high=1e-1, every=7: S.random_uniform(key, low, high, every, True),
        {
            "key": list(jax.random.split(KEY, 3)),
            "low": [1e-4, 1e-3, 1e-2],
            "high": [0.05, 0.1, 1.0],
            "every": [1, 7, 50],
        },
    ),
    "noise": (
        lambda key=KEY, pct=0.2, std=0.5, start=5, stop=50: S.noise(
            _cos(), key, pct, std, start, stop
        ),
        {
            "key": list(jax.random.split(KEY, 3)),
            "pct": [0.1, 0.2, 0.6],
            "std": [0.1, 0.5, 2.0],
            "start": [0, 5, 30],
            "stop": [10, 50, 200],
        },
    ),
}

CASES = [(name, hp) for name, (_, grid) in FAMILIES.items() for hp in grid]


def _stack(values):
    if isinstance(values[0], jax.Array) and jnp.issubdtype(values[0].dtype, jax.dtypes.prng_key):
        return jnp.stack(values)
    return jnp.asarray(values)


# One compiled evaluator shared by all tests: it compiles once per schedule structure.
evaluate = jax.jit(lambda schedule, step: schedule(step))


@pytest.mark.parametrize("name, hp", CASES, ids=[f"{n}-{h}" for n, h in CASES])
def test_vmap_over_hyperparameter_equals_loop(name, hp):
    build, grid = FAMILIES[name]
    values = grid[hp]
    vmapped = jax.jit(jax.vmap(lambda v: build(**{hp: v})(STEPS)))(_stack(values))
    for i, v in enumerate(values):
        single = evaluate(build(**{hp: v}), STEPS)
        np.testing.assert_allclose(vmapped[i], single, rtol=RTOL, atol=ATOL, err_msg=f"{hp}={v}")


@pytest.mark.parametrize("name", FAMILIES)
def test_new_values_do_not_recompile(name):
    build, grid = FAMILIES[name]

    @jax.jit
    @chex.assert_max_traces(n=1)
    def once(schedule, step):
        return schedule(step)

    for i in range(3):
        kwargs = {hp: _stack(values)[i] for hp, values in grid.items()}
        s = build(**kwargs)
        # Jitted equals eager, and the three settings share one trace.
        np.testing.assert_allclose(once(s, STEPS), s(STEPS), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", FAMILIES)
def test_batch_of_schedules_built_by_vmap(name):
    """DESIGN.md's pattern: vmap a constructor, then vmap the evaluation over the batch."""
    build, grid = FAMILIES[name]
    batch = jax.vmap(lambda kw: build(**kw))({hp: _stack(v) for hp, v in grid.items()})
    values = jax.jit(jax.vmap(lambda s: s(STEPS)))(batch)
    for i in range(3):
        single = build(**{hp: _stack(v)[i] for hp, v in grid.items()})
        np.testing.assert_allclose(values[i], evaluate(single, STEPS), rtol=RTOL, atol=ATOL)


def test_training_step_compiles_once_for_new_schedules():
    """An optax optimizer built from a traced schedule inside a jitted step."""
    params = jnp.ones(4)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def train_step(params, opt_state, schedule):
        opt = optax.adam(schedule)
        grads = 2 * params
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for peak, warm, horizon in [(1e-3, 10, 100), (3e-2, 50, 1000), (0.1, 0, 7)]:
        schedule = S.warmup(S.cosine_decay(peak, horizon), warm)
        opt_state = optax.adam(schedule).init(params)
        train_step(params, opt_state, schedule)


# Step counts optax cannot trace (OPTAX.md 2.1): a vmap over them equals optax schedules
# rebuilt with each concrete value.
OPTAX_STEP_COUNTS = [
    (
        lambda n: S.cosine_decay(0.1, n, 0.001),
        lambda n: optax.cosine_decay_schedule(0.1, n, 0.01),
        [10, 100, 300],
    ),
    (
        lambda n: S.warmup(S.cosine_decay(0.1, 300 - n, 0.0), n),
        lambda n: optax.warmup_cosine_decay_schedule(0.0, 0.1, n, 300),
        [5, 40, 120],
    ),
    (
        lambda n: S.polynomial_decay(0.1, 0.0, n, 2.0, begin=n // 2),
        lambda n: optax.polynomial_schedule(0.1, 0.0, 2.0, n, transition_begin=n // 2),
        [10, 100, 300],
    ),
    (
        lambda n: S.exponential_decay(0.1, 0.5, n, begin=7, staircase=True),
        lambda n: optax.exponential_decay(0.1, n, 0.5, transition_begin=7, staircase=True),
        [3, 20, 50],
    ),
    (
        lambda n: S.piecewise_constant(jnp.stack([n, 2 * n]), jnp.array([0.1, 0.05, 0.01])),
        lambda n: optax.piecewise_constant_schedule(0.1, {int(n): 0.5, int(2 * n): 0.2}),
        [10, 30, 90],
    ),
    (
        lambda n: S.piecewise_interpolate(
            jnp.stack([0, n, 2 * n]).astype(float), jnp.array([0.004, 0.1, 0.0001]), "cosine"
        ),
        lambda n: optax.piecewise_interpolate_schedule(
            "cosine", 0.004, {int(n): 25.0, int(2 * n): 0.001}
        ),
        [10, 30, 90],
    ),
]


@pytest.mark.parametrize("ours, theirs, counts", OPTAX_STEP_COUNTS)
def test_vmap_over_step_counts_matches_optax_rebuilt(ours, theirs, counts):
    vmapped = jax.jit(jax.vmap(lambda n: ours(n)(STEPS)))(jnp.asarray(counts))
    for i, n in enumerate(counts):
        # vmap over the step: optax's piecewise_interpolate rejects a vector step.
        want = jax.vmap(theirs(n))(STEPS)
        np.testing.assert_allclose(vmapped[i], want, rtol=2e-5, atol=1e-8)


COMPAT_TRACED = [
    (lambda v: torch.StepLR(0.1, v, 0.5), [5, 30]),
    (lambda v: torch.CosineAnnealingWarmRestarts(0.1, v, 2), [5, 20]),
    (lambda v: torch.OneCycleLR(0.1, 0.1, total_steps=v), [50, 300]),
    (lambda v: torch.CyclicLR(0.001, 0.1, v), [10, 40]),
    (lambda v: torch.MultiStepLR(0.1, jnp.stack([v, 2 * v])), [10, 70]),
    (lambda v: keras.CosineDecayRestarts(0.1, v, 2.0, 0.8), [11, 40]),
    (lambda v: keras.PiecewiseConstantDecay(jnp.stack([v, 2 * v]), [0.1, 0.05, 0.01]), [5, 60]),
    (lambda v: timm.CosineLRScheduler(0.1, v, warmup_t=10, cycle_limit=3), [40, 100]),
    (lambda v: timm.TanhLRScheduler(0.1, v, warmup_t=5, cycle_limit=2), [30, 120]),
]


@pytest.mark.parametrize("build, values", COMPAT_TRACED)
def test_compat_step_arguments_trace(build, values):
    vmapped = jax.jit(jax.vmap(lambda v: build(v)(STEPS)))(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_allclose(vmapped[i], evaluate(build(v), STEPS), rtol=RTOL, atol=ATOL)


def test_schedule_is_a_pytree_with_named_paths():
    s = S.warmup(S.cosine_decay(0.1, 100, 0.001), 10)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(s)[0]]
    assert paths == [
        ".schedule.peak",
        ".schedule.decay_steps",
        ".schedule.final",
        ".steps",
        ".init",
    ]
    # Unflattening bypasses validation: tree utilities may fill leaves with placeholders
    # (here decay_steps=0, which the constructor rejects).
    zeros = jax.tree.map(lambda x: 0, s)
    assert isinstance(zeros, S.warmup) and zeros.schedule.decay_steps == 0


def test_dtype_follows_hyperparameters():
    assert S.cosine_decay(0.1, 100)(3).dtype == jnp.float32
    assert S.cosine_decay(jnp.bfloat16(0.1), 100)(3).dtype == jnp.bfloat16
    with jax.enable_x64(True):
        assert S.cosine_decay(0.1, 100)(jnp.int32(3)).dtype == jnp.float64
        assert S.cosine_decay(jnp.float32(0.1), 100)(3).dtype == jnp.float32
        # float64 inside, so the value equals the float64 formula exactly.
        want = 0.5 * 0.1 * (1 + np.cos(np.pi * 3 / 7))
        assert float(S.cosine_decay(0.1, 7)(jnp.int32(3))) == pytest.approx(want, rel=1e-15)


def test_negative_steps_are_step_zero():
    s = S.warm_restarts(0.1, 10, 2)
    np.testing.assert_array_equal(s(jnp.array([-5, -1, 0])), s(jnp.array([0, 0, 0])))


def test_schedule_elementwise_in_step_shape():
    s = S.one_cycle(0.1, 100)
    grid = jnp.arange(24).reshape(2, 3, 4)
    out = s(grid)
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out.ravel(), s(jnp.arange(24)), rtol=1e-7)
