"""PPO on gymnax CartPole: the metrics' contract, vmap over hyperparameters, one compile,
the step form equal to the scanned run, the rate schedule in the optimizer state, and
(slow) that it learns."""

import functools
import time

import pytest

pytest.importorskip("gymnax")
pytest.importorskip("flax")

import chex  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import lrjax  # noqa: E402
from lrjax.tasks.cartpole import Config, make_step, make_train  # noqa: E402

# 5 updates of 2 envs x 16 steps, one epoch of 2 minibatches each.
TINY = Config(num_envs=2, num_steps=16, total_timesteps=2 * 16 * 5, update_epochs=1,
              num_minibatches=2)  # fmt: skip
METRICS = ("return", "loss", "entropy")


def _hp(lr=1e-3, anneal=0.0, warmup=0, seed=0):
    """One hp setting as arrays of fixed dtypes, so new values never change the trace."""
    return {
        "lr": jnp.float32(lr),
        "anneal": jnp.float32(anneal),
        "warmup": jnp.int32(warmup),
        "seed": jnp.int32(seed),
    }


def _stack(settings):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *settings)


@functools.cache
def single():
    """One member's whole training, jitted once per test process; a second trace raises."""
    return jax.jit(chex.assert_max_traces(make_train(TINY), n=1))


def test_metrics_are_float32_scalars_per_update_and_finite_and_compile_once():
    for hp in (_hp(), _hp(5e-4, 0.5, 3, 7)):  # new values: no second trace
        metrics = single()(hp)
        assert set(metrics) == set(METRICS)
        for name in METRICS:
            assert metrics[name].shape == (TINY.num_updates,), name
            assert metrics[name].dtype == jnp.float32, name
            assert np.isfinite(metrics[name]).all(), name
        assert (metrics["return"] >= 0).all()
        assert (metrics["entropy"] > 0).all() and (metrics["entropy"] <= np.log(2) + 1e-6).all()


SETTINGS = [_hp(1e-3, 0.0, 0, 0), _hp(3e-4, 1.0, 2, 1), _hp(1e-2, 0.5, 1, 2)]


def test_a_sweep_of_both_forms_equals_each_member_trained_alone():
    """The TrainState (its tx closing over traced hp), the env states and the key ride in
    the sweep's carry unchanged, in both forms (`run_train` is ``jax.jit(jax.vmap(train))``,
    tested bitwise in test_sweep_engine.py), and each member equals its own run."""
    from lrjax import sweep

    hp = _stack(SETTINGS)
    whole = sweep.run_train(make_train(TINY), hp, score="return", mode="max")
    init, step = make_step(TINY)
    stepped = sweep.run(init, step, hp, steps=TINY.num_updates, eval_every=2, score="return",
                        mode="max")  # fmt: skip
    for i, setting in enumerate(SETTINGS):
        alone = single()(setting)
        for name in METRICS:
            # The batched programs fuse differently (float32 rounding), and RL amplifies
            # rounding chaotically once an action sample flips: compare the first updates.
            np.testing.assert_allclose(whole.metrics[name][i, :3], alone[name][:3], rtol=1e-5)
            np.testing.assert_allclose(stepped.metrics[name][i, :3], alone[name][:3], rtol=1e-5)
    # the rate each update ended on, read from the TrainState's optimizer state: the
    # second setting warms up over W = 2 updates x 2 optimizer steps; update n ends on
    # optimizer step k = 2n - 1, at rate k / W, then stays at the peak (anneal 1)
    np.testing.assert_allclose(stepped.lrs[1], 3e-4 * np.array([1 / 4, 3 / 4, 1, 1, 1]), rtol=1e-6)


# update_epochs * num_minibatches = U = 4 optimizer steps per update, T = 5 U = 20 in all.
SCHEDULE = Config(num_envs=2, num_steps=16, total_timesteps=2 * 16 * 5, update_epochs=2,
                  num_minibatches=2)  # fmt: skip


@pytest.mark.parametrize(
    "warmup, anneal, updates, factor",
    [
        # After n updates the last optimizer step was k = 4n - 1; W = 4 * warmup.
        (0, 0.5, 1, 1 - 0.5 * 3 / 20),  # linear from 1 to 0.5 over 20 steps, at k = 3
        (2, 0.0, 1, 3 / 8),  # warmup k / W at k = 3, W = 8
        (2, 0.0, 3, 1 - (11 - 8) / (20 - 8)),  # after warmup: 1 -> 0 over k in [8, 20]
        (0, 1.0, 2, 1.0),  # anneal 1 keeps the peak
    ],
)
def test_applied_rate_after_updates_is_the_warmup_anneal_formula(warmup, anneal, updates, factor):
    init, step = make_step(SCHEDULE)
    hp = _hp(2e-3, anneal, warmup)

    @jax.jit
    def rate(hp):
        carry = init(hp)
        for _ in range(updates):
            carry, _ = step(carry, hp)
        return lrjax.applied_lr(carry.train_state.opt_state)

    np.testing.assert_allclose(rate(hp), 2e-3 * factor, rtol=1e-6)


@pytest.mark.parametrize(
    "field, value",
    [
        ("num_envs", 0),
        ("num_steps", -1),
        ("update_epochs", 0),
        ("num_minibatches", 3),  # does not divide 4 * 128
        ("total_timesteps", 100),  # less than one update of 4 * 128
        ("hidden", 1.5),
        ("gamma", 1.5),
        ("clip_eps", 0.0),
        ("ent_coef", -0.1),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"Config.{field}"):
        Config(**{field: value})


@pytest.mark.slow
def test_default_config_learns_to_balance():
    # Measured on 2 CPU cores: about 8 s to compile and 1 s to run, last-10 mean ~218
    # (seed 0); a random policy gets about 25.
    train = jax.jit(make_train(Config()))
    hp = _hp(lr=2.5e-4, anneal=0.0, warmup=0, seed=0)
    start = time.perf_counter()
    returns = np.asarray(train(hp)["return"])
    print(f"train: {time.perf_counter() - start:.1f} s, last-10 return {returns[-10:].mean():.1f}")
    assert returns[-10:].mean() > 150
