"""Every optimizer trains, sweeps and compiles as one program.

* Convergence: each of the nine optimizers minimises a convex quadratic and makes clear
  progress on the 2-D Rosenbrock function, in one jitted scan per optimizer.
* vmap: every numeric hyperparameter (and a schedule's) can be a traced value inside the
  vmapped function; the batch equals a loop of single runs.
* No recompilation: a jitted train function taking the hyperparameters as arguments
  traces once for all values, and a jitted ``opt.update`` does not retrace on its own
  output state.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S

# ---------------------------------------------------------------------------------------
# Convergence
# ---------------------------------------------------------------------------------------

N_TRAIN = 3000
CURV = jnp.array([1.0, 3.0, 10.0])
TARGET = jnp.array([1.0, -2.0, 0.5])
Q0 = {"x": jnp.zeros(3), "y": jnp.array([[3.0, -1.0], [0.0, 2.0]])}
R0 = {"xy": jnp.array([-1.2, 1.0])}


def quadratic(p):
    """Convex, minimum 0 at x = TARGET, y = 1; condition number 10."""
    return 0.5 * jnp.sum(CURV * (p["x"] - TARGET) ** 2) + 0.5 * jnp.sum((p["y"] - 1.0) ** 2)


def rosenbrock(p):
    x, y = p["xy"][0], p["xy"][1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def final_ratio(opt, f, p0, n=N_TRAIN):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(f)(p), state, p)
        return (optax.apply_updates(p, updates), state), None

    (p, _), _ = jax.lax.scan(step, (p0, opt.init(p0)), length=n)
    return f(p) / f(p0)


def _cos(peak):
    return S.cosine_decay(peak, N_TRAIN)


# name -> (optimizer for the quadratic, for Rosenbrock, bound on Rosenbrock's final/initial).
# The adaptive methods take steps of about the rate in every coordinate whatever the
# gradient, so with a constant rate they hover ~lr around the minimum; a cosine decay to
# 0 lets them settle. Rosenbrock's bounds are ~10x the values measured (float32, CPU),
# all at least a factor 10 below the start (24.2). Tuning per optimizer:
# * sgd: heavy ball; the Rosenbrock rate is 1e-3 because the curvature reaches ~1000.
# * adagrad: a larger rate (0.5) since its steps shrink like 1/sqrt(t).
# * adadelta: its own defaults (rate 1.0); its steps start at sqrt(eps) = 1e-3 and grow,
#   so it is the slowest on Rosenbrock (measured 2e-2).
# * radam: its first five updates are unadapted momentum steps lr·m̂ (PEERS.md 4) and
#   |∇f| ≈ 230 at (-1.2, 1), so the rate is 5e-3 (0.05 diverges); measured 1.6e-2.
# * adamax: its infinity norm adapts slowly on the curved valley (measured 8e-3).
CONVERGE = {
    "sgd": (lrjax.sgd(0.05, 0.9), lrjax.sgd(1e-3, 0.9), 1e-6),
    "adagrad": (lrjax.adagrad(0.5), lrjax.adagrad(0.5), 1e-3),
    "adadelta": (lrjax.adadelta(), lrjax.adadelta(), 0.1),
    "rmsprop": (lrjax.rmsprop(_cos(0.05)), lrjax.rmsprop(_cos(1e-2)), 1e-3),
    "adam": (lrjax.adam(_cos(0.1)), lrjax.adam(_cos(0.05)), 1e-4),
    "adamw": (
        lrjax.adamw(_cos(0.1), weight_decay=0.0),
        lrjax.adamw(_cos(0.05), weight_decay=1e-3),
        1e-3,
    ),
    "nadam": (lrjax.nadam(_cos(0.1)), lrjax.nadam(_cos(0.05)), 1e-4),
    "radam": (lrjax.radam(_cos(0.1)), lrjax.radam(_cos(5e-3)), 0.1),
    "adamax": (lrjax.adamax(_cos(0.1)), lrjax.adamax(_cos(0.05)), 0.05),
    # measured: 8e-3 (adamax's slow infinity norm, as above)
    "adamaxw": (
        lrjax.adamaxw(_cos(0.1), weight_decay=0.0),
        lrjax.adamaxw(_cos(0.05), weight_decay=1e-4),
        0.05,
    ),
    # sign methods take steps of the rate in every coordinate: Rosenbrock's valley needs
    # a small rate (1e-2); plain signSGD zigzags across it (measured 3.6e-2)
    "sign_sgd": (lrjax.sign_sgd(_cos(0.1)), lrjax.sign_sgd(_cos(0.01)), 0.2),
    "signum": (lrjax.signum(_cos(0.1)), lrjax.signum(_cos(0.01)), 1e-4),
    "lion": (lrjax.lion(_cos(0.1), weight_decay=0.0), lrjax.lion(_cos(0.01)), 1e-4),
    "adabelief": (lrjax.adabelief(_cos(0.1)), lrjax.adabelief(_cos(0.05)), 1e-4),
    "yogi": (lrjax.yogi(_cos(0.1)), lrjax.yogi(_cos(0.05)), 1e-3),
    # Adafactor's steps are relative to RMS(θ) (factored "y" on the quadratic); measured
    # on Rosenbrock 8.3e-5. SM3 is AdaGrad-like: a constant rate (measured 1.6e-4).
    "adafactor": (
        lrjax.adafactor(_cos(0.1), min_dim_size_to_factor=2),
        lrjax.adafactor(_cos(0.05)),
        1e-3,
    ),
    "sm3": (lrjax.sm3(0.5), lrjax.sm3(0.5), 2e-3),
    # Rprop's steps adapt per coordinate from the initial size, no schedule needed
    # (measured on Rosenbrock: 2.9e-7)
    "rprop": (lrjax.rprop(0.05), lrjax.rprop(1e-3), 1e-5),
    # ASGD is SGD with a slowly decaying rate; the Rosenbrock rate is SGD's (measured 1e-2)
    "asgd": (lrjax.asgd(0.05, lambd=1e-3), lrjax.asgd(1e-3, lambd=1e-3), 0.1),
    # with dense gradients the lazy methods are Adam (eps on the uncorrected root) and
    # AdaGrad; tables=True makes Rosenbrock's 1-D leaf lazy too (measured 1.1e-7, 1.0e-4:
    # Adam's and AdaGrad's values)
    "lazy_adam": (lrjax.lazy_adam(_cos(0.1)), lrjax.lazy_adam(_cos(0.05), tables=True), 1e-4),
    "lazy_adagrad": (lrjax.lazy_adagrad(0.5), lrjax.lazy_adagrad(0.5, tables=True), 1e-3),
    # The learning-rate-free methods at their defaults (polyak_sgd needs value=, see
    # tests/test_lrfree_convergence.py); Mechanic keeps its base's rate and schedule.
    "dowg": (lrjax.adaptive.dowg(), lrjax.adaptive.dowg(), 0.1),
    "cocob": (lrjax.adaptive.cocob(), lrjax.adaptive.cocob(), 0.1),
    "mechanize": (
        lrjax.adaptive.mechanize(lrjax.adam(_cos(0.1))),
        lrjax.adaptive.mechanize(lrjax.adam(_cos(0.1))),
        0.1,
    ),
    # LARS steps by about lr · trust_coefficient · |θ| per leaf, so the rate is large
    # (10 with optax's coefficient 1e-3; 1 with 1e-2 on Rosenbrock, measured 2.9e-12)
    "lars": (
        lrjax.lars(_cos(10.0)),
        lrjax.lars(_cos(1.0), trust_coefficient=0.01),
        1e-6,
    ),
    # measured on Rosenbrock: 1.9e-9 (lamb), 2.1e-12 (novograd)
    "lamb": (lrjax.lamb(_cos(0.1)), lrjax.lamb(_cos(0.05)), 1e-6),
    "novograd": (lrjax.novograd(_cos(0.1)), lrjax.novograd(_cos(0.01)), 1e-6),
}


@pytest.mark.parametrize("name", CONVERGE)
def test_minimises_quadratic_and_rosenbrock(name):
    for_quadratic, for_rosenbrock, bound = CONVERGE[name]
    quad, rosen = jax.jit(
        lambda: (
            final_ratio(for_quadratic, quadratic, Q0),
            final_ratio(for_rosenbrock, rosenbrock, R0),
        )
    )()
    assert float(quad) < 1e-3, float(quad)
    assert float(rosen) < bound, float(rosen)


# ---------------------------------------------------------------------------------------
# vmap over hyperparameters = loop of single runs; one trace for all values
# ---------------------------------------------------------------------------------------

N_SWEEP = 30
P0 = {"a": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array([[0.3, -0.7], [1.5, -1.1]])}


def sweep_loss(p):
    """Quadratic plus quartic; leaf "b" is scaled by 1e-4 so that eps values matter."""

    def f(x):
        return jnp.sum(0.5 * x**2 + 0.1 * x**4 - 0.3 * x)

    return f(p["a"]) + 1e-4 * f(p["b"])


def sweep_trajectory(opt):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(sweep_loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    (_, state), ps = jax.lax.scan(step, (P0, opt.init(P0)), length=N_SWEEP)
    return ps, lrjax.applied_lr(state)


def _scheduled_adam(h):
    """A schedule's hyperparameters through the optimizer; β1 is a schedule too (torch's
    OneCycleLR cycles it)."""
    lr = S.cosine_decay(h["peak"], h["decay_steps"], h["final"])
    return lrjax.adam(lr, S.linear(h["b1_start"], h["b1_end"], N_SWEEP))


# name -> (build(h) with every hyperparameter read from the dict h, {name: (base, other)}).
# Run i = 0 uses every base value, run j changes only the j-th hyperparameter, and all of
# them are batched (traced) in every run.
SWEEPS = {
    "sgd": (
        lambda h: lrjax.sgd(
            h["learning_rate"],
            h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.1, 0.03),
            "momentum": (0.9, 0.5),
            "dampening": (0.1, 0.5),
            "weight_decay": (0.01, 0.2),
        },
    ),
    # The momentum is a schedule whose endpoints are traced.
    "sgd_nesterov_scheduled_momentum": (
        lambda h: lrjax.sgd(
            h["learning_rate"], S.linear(h["m_start"], h["m_end"], N_SWEEP), nesterov=True
        ),
        {"learning_rate": (0.1, 0.03), "m_start": (0.9, 0.5), "m_end": (0.5, 0.8)},
    ),
    "adagrad": (
        lambda h: lrjax.adagrad(
            h["learning_rate"],
            initial_accumulator_value=h["initial_accumulator_value"],
            eps=h["eps"],
            lr_decay=h["lr_decay"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.1, 0.3),
            "initial_accumulator_value": (0.0, 0.5),
            "eps": (1e-10, 1e-4),
            "lr_decay": (0.0, 0.1),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "adadelta": (
        lambda h: lrjax.adadelta(
            h["learning_rate"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"]
        ),
        {
            "learning_rate": (1.0, 0.5),
            "rho": (0.9, 0.5),
            "eps": (1e-6, 1e-4),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "rmsprop": (
        lambda h: lrjax.rmsprop(
            h["learning_rate"],
            decay=h["decay"],
            eps=h["eps"],
            momentum=h["momentum"],
            weight_decay=h["weight_decay"],
            centered=True,
        ),
        {
            "learning_rate": (0.01, 0.03),
            "decay": (0.99, 0.9),
            "eps": (1e-8, 1e-4),
            "momentum": (0.5, 0.9),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "adam": (
        lambda h: lrjax.adam(
            h["learning_rate"],
            h["b1"],
            h["b2"],
            h["eps"],
            eps_root=h["eps_root"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.1, 0.03),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.9),
            "eps": (1e-8, 1e-4),
            "eps_root": (0.0, 1e-6),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "adamw_amsgrad": (
        lambda h: lrjax.adamw(
            h["learning_rate"], h["b1"], h["b2"], weight_decay=h["weight_decay"], amsgrad=True
        ),
        {
            "learning_rate": (0.1, 0.03),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.9),
            "weight_decay": (0.01, 0.3),
        },
    ),
    "nadam": (
        lambda h: lrjax.nadam(
            h["learning_rate"],
            h["b1"],
            h["b2"],
            h["eps"],
            momentum_decay=h["momentum_decay"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.1, 0.03),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.9),
            "eps": (1e-8, 1e-4),
            "momentum_decay": (4e-3, 0.1),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "radam": (
        lambda h: lrjax.radam(
            h["learning_rate"],
            h["b1"],
            h["b2"],
            h["eps"],
            threshold=h["threshold"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.99),
            "eps": (1e-8, 1e-4),
            "threshold": (5.0, 20.0),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "adamax": (
        lambda h: lrjax.adamax(
            h["learning_rate"], h["b1"], h["b2"], h["eps"], weight_decay=h["weight_decay"]
        ),
        {
            "learning_rate": (0.1, 0.03),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.5),
            "eps": (1e-8, 1e-3),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "adam_scheduled": (
        _scheduled_adam,
        {
            "peak": (0.1, 0.05),
            "decay_steps": (20, 7),
            "final": (0.0, 0.01),
            "b1_start": (0.95, 0.6),
            "b1_end": (0.85, 0.5),
        },
    ),
    "lion": (
        lambda h: lrjax.lion(h["learning_rate"], h["b1"], h["b2"], weight_decay=h["weight_decay"]),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.8),
            "b2": (0.99, 0.95),
            "weight_decay": (1e-3, 0.1),
        },
    ),
    "signum": (
        lambda h: lrjax.signum(h["learning_rate"], h["momentum"]),
        {"learning_rate": (0.05, 0.02), "momentum": (0.9, 0.5)},
    ),
    "adabelief": (
        lambda h: lrjax.adabelief(
            h["learning_rate"],
            h["b1"],
            h["b2"],
            h["eps"],
            eps_root=h["eps_root"],
            weight_decay=h["weight_decay"],
        ),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.8),
            "b2": (0.999, 0.99),
            "eps": (1e-16, 1e-6),
            "eps_root": (1e-16, 1e-8),
            "weight_decay": (0.0, 0.01),
        },
    ),
    # t0 moves only the iterate average, not the trajectory this test compares
    "asgd": (
        lambda h: lrjax.asgd(
            h["learning_rate"], h["lambd"], h["alpha"], weight_decay=h["weight_decay"]
        ),
        {
            "learning_rate": (0.05, 0.02),
            "lambd": (1e-4, 0.1),
            "alpha": (0.75, 0.5),
            "weight_decay": (0.0, 0.01),
        },
    ),
    "rprop": (
        lambda h: lrjax.rprop(
            h["learning_rate"],
            h["eta_minus"],
            h["eta_plus"],
            h["min_step_size"],
            h["max_step_size"],
        ),
        {
            "learning_rate": (0.05, 0.01),
            "eta_minus": (0.5, 0.3),
            "eta_plus": (1.2, 1.5),
            "min_step_size": (1e-6, 1e-3),
            "max_step_size": (50.0, 0.2),
        },
    ),
    # every leaf a table: the row masks are traced along with the hyperparameters
    "lazy_adam": (
        lambda h: lrjax.lazy_adam(h["learning_rate"], h["b1"], h["b2"], h["eps"], tables=True),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.5),
            "b2": (0.999, 0.9),
            "eps": (1e-8, 1e-4),
        },
    ),
    "lazy_adagrad": (
        lambda h: lrjax.lazy_adagrad(
            h["learning_rate"],
            initial_accumulator_value=h["initial_accumulator_value"],
            eps=h["eps"],
            lr_decay=h["lr_decay"],
            tables=True,
        ),
        {
            "learning_rate": (0.1, 0.3),
            "initial_accumulator_value": (0.0, 0.5),
            "eps": (1e-10, 1e-4),
            "lr_decay": (0.0, 0.1),
        },
    ),
    # min_dim_size_to_factor is static (the state's shapes): "b" (2x2) is factored.
    # The vmapped block RMS and row means round differently (one float32 ulp of the
    # O(1) params); rates of 0.02 keep that within the atol over 30 steps (0.05: 1.05x).
    "adafactor": (
        lambda h: lrjax.adafactor(
            h["learning_rate"],
            2,
            h["decay_rate"],
            h["decay_offset"],
            clipping_threshold=h["clipping_threshold"],
            momentum=h["momentum"],
            weight_decay_rate=h["weight_decay_rate"],
            eps=h["eps"],
        ),
        {
            "learning_rate": (0.02, 0.01),
            "decay_rate": (0.8, 0.5),
            "decay_offset": (0, 5),
            "clipping_threshold": (1.0, 0.5),
            "momentum": (0.9, 0.5),
            "weight_decay_rate": (1e-3, 1e-2),
            "eps": (1e-30, 1e-6),
        },
    ),
    "sm3": (
        lambda h: lrjax.sm3(h["learning_rate"], h["momentum"]),
        {"learning_rate": (0.05, 0.02), "momentum": (0.9, 0.5)},
    ),
    "yogi": (
        lambda h: lrjax.yogi(
            h["learning_rate"],
            h["b1"],
            h["b2"],
            h["eps"],
            eps_root=h["eps_root"],
            initial_accumulator_value=h["initial_accumulator_value"],
        ),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.8),
            "b2": (0.999, 0.99),
            "eps": (1e-3, 1e-5),
            "eps_root": (0.0, 1e-8),
            "initial_accumulator_value": (1e-6, 1e-3),
        },
    ),
    "lars": (
        lambda h: lrjax.lars(
            h["learning_rate"],
            h["weight_decay"],
            trust_coefficient=h["trust_coefficient"],
            eps=h["eps"],
            momentum=h["momentum"],
        ),
        {
            "learning_rate": (1.0, 0.5),
            "weight_decay": (1e-2, 0.1),
            "trust_coefficient": (0.01, 0.05),
            "eps": (0.0, 1e-3),
            "momentum": (0.9, 0.5),
        },
    ),
    "lamb": (
        lambda h: lrjax.lamb(
            h["learning_rate"], h["b1"], h["b2"], h["eps"], h["eps_root"], h["weight_decay"]
        ),
        {
            "learning_rate": (0.05, 0.02),
            "b1": (0.9, 0.8),
            "b2": (0.999, 0.99),
            "eps": (1e-6, 1e-4),
            "eps_root": (0.0, 1e-8),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "novograd": (
        lambda h: lrjax.novograd(
            h["learning_rate"], h["b1"], h["b2"], h["eps"], h["eps_root"], h["weight_decay"]
        ),
        {
            "learning_rate": (0.02, 0.01),
            "b1": (0.9, 0.8),
            "b2": (0.25, 0.5),
            "eps": (1e-6, 1e-3),
            "eps_root": (0.0, 1e-6),
            "weight_decay": (0.0, 0.1),
        },
    ),
    "dowg": (
        lambda h: lrjax.adaptive.dowg(
            h["learning_rate"], h["init_estim_sq_dist"], h["eps"], h["weight_decay"]
        ),
        {
            "learning_rate": (1.0, 0.5),
            "init_estim_sq_dist": (1e-4, 1e-2),
            "eps": (1e-4, 1e-6),
            "weight_decay": (0.0, 0.01),
        },
    ),
    "cocob": (
        lambda h: lrjax.adaptive.cocob(h["learning_rate"], h["alpha"], h["eps"], h["weight_decay"]),
        {
            "learning_rate": (1.0, 0.5),
            "alpha": (100.0, 10.0),
            "eps": (1e-8, 1e-3),
            "weight_decay": (0.0, 0.01),
        },
    ),
    "mechanize": (
        lambda h: lrjax.adaptive.mechanize(
            lrjax.adam(h["learning_rate"]), h["weight_decay"], h["eps"], h["s_init"]
        ),
        {
            "learning_rate": (0.1, 0.05),
            "weight_decay": (1e-2, 1.0),
            "eps": (1e-8, 1e-3),
            "s_init": (1e-3, 1e-5),
        },
    ),
}


def _batch(grid):
    """Run 0: every base value; run j: base values with the j-th hyperparameter changed."""
    names = list(grid)
    rows = [{n: grid[n][0] for n in names}]
    for n in names:
        rows.append({**rows[0], n: grid[n][1]})
    return {n: jnp.asarray([r[n] for r in rows]) for n in names}, names


@pytest.mark.parametrize("name", SWEEPS)
def test_vmap_over_every_hyperparameter_equals_loop_of_one_compiled_run(name):
    build, grid = SWEEPS[name]
    batch, names = _batch(grid)

    def train(h):
        return sweep_trajectory(build(h))

    vmapped, lrs = jax.jit(jax.vmap(train))(batch)
    # One trace of the single-run function serves every row: no recompilation per value.
    single = jax.jit(chex.assert_max_traces(train, n=1))
    for i in range(len(names) + 1):
        row = {n: v[i] for n, v in batch.items()}
        want, lr = single(row)
        for k in want:
            np.testing.assert_allclose(vmapped[k][i], want[k], rtol=1e-6, atol=1e-7, err_msg=k)
        np.testing.assert_allclose(lrs[i], lr, rtol=1e-6)
        if i:  # each hyperparameter reaches the result
            moved = max(float(jnp.max(jnp.abs(vmapped[k][i] - vmapped[k][0]))) for k in want)
            assert moved > 1e-6, f"{names[i - 1]} had no effect"


# ---------------------------------------------------------------------------------------
# jitted update: no retrace on the state it returns
# ---------------------------------------------------------------------------------------

GRADS = {"a": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array([[1e-4, -2e-4], [3e-4, 0.0]])}
UPDATE = {
    "sgd": lambda: lrjax.sgd(S.step_decay(0.1, 0.5, 2), S.linear(0.9, 0.5, 5), dampening=0.1),
    "sgd_plain": lambda: lrjax.sgd(0.1, weight_decay=1e-2),
    "adagrad": lambda: lrjax.adagrad(0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "adadelta": lambda: lrjax.adadelta(S.cosine_decay(1.0, 10)),
    "rmsprop": lambda: lrjax.rmsprop(0.01, centered=True, momentum=0.9),
    "adam": lambda: lrjax.adam(S.cosine_decay(0.1, 10), S.linear(0.95, 0.85, 5), amsgrad=True),
    "adamw": lambda: lrjax.adamw(0.1, mu_dtype=jnp.bfloat16),
    "nadam": lambda: lrjax.nadam(0.1),
    "radam": lambda: lrjax.radam(0.1),
    "adamax": lambda: lrjax.adamax(0.1, weight_decay=1e-2),
    "lazy_adam": lambda: lrjax.lazy_adam(S.cosine_decay(0.1, 10), tables=True),
    "average_iterates": lambda: lrjax.average_iterates(lrjax.adam(0.1), "ema", start=1),
}


@pytest.mark.parametrize("name", UPDATE)
def test_jitted_update_does_not_retrace(name):
    opt = UPDATE[name]()
    update = jax.jit(chex.assert_max_traces(opt.update, n=1))
    state = opt.init(P0)
    for _ in range(3):  # the output state has exactly the input's types (no weak types)
        updates, state = update(GRADS, state, P0)
    chex.assert_trees_all_equal_dtypes(state, opt.init(P0))
