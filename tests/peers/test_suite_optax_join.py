"""optax's own join and inject_hyperparams tests, run against lrjax's schedules and optimizers.

Sources: ``optax/schedules/_join_test.py`` and ``optax/schedules/_inject_test.py`` of
google-deepmind/optax, release 0.2.8 (tag v0.2.8, commit
107e9ad20ca62bcbee1a8c016daab71c690a678c; identical to the copies installed with optax 0.2.8).
Inputs and expected values are optax's.

Mapping (``S = lrjax.schedules``): join_schedules -> S.join; constant_schedule ->
S.constant; piecewise_constant_schedule -> S.piecewise_constant with the scales multiplied
out; linear_schedule -> S.linear. optax.inject_hyperparams itself is kept: what it wraps
becomes lrjax's counterpart, transform.scale_by_adam -> lrjax.scale_by_adam,
transform.trace(decay, nesterov) -> lrjax.sgd(momentum=..., nesterov=...),
transform.scale / scale(-learning_rate) -> lrjax.sgd(learning_rate) (updates of the other
sign), transforms.clip_by_global_norm(max_norm) -> lrjax.sgd(learning_rate) (the overridden
hyperparameter is then the rate, and `lrjax.applied_lr` reads it back).

Not applicable:
- InjectHyperparamsTest.test_prng_key_not_hyperparameter: a hand-written optimizer taking a
  PRNG key; no lrjax optimizer takes a key.
- StatefulTest.test_inject_stateful_hyperparams: a hand-written optax.StatefulSchedule; lrjax
  schedules are stateless, and lrjax has no schedule in optax's StatefulSchedule protocol.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S


def _piecewise_constant(init, boundaries_and_scales):
    """optax's piecewise_constant_schedule: each scale multiplies the value reached so far."""
    steps = sorted(boundaries_and_scales)
    values = [init]
    for step in steps:
        values.append(values[-1] * boundaries_and_scales[step])
    return S.piecewise_constant(steps, values)


# _join_test.py


class TestJoin:
    def test_join_schedules(self):
        schedule = S.join([S.constant(1.0), S.constant(2.0), S.constant(1.0)], boundaries=[3, 6])
        for step, want in enumerate([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0]):
            np.testing.assert_allclose(want, schedule(step), atol=0.0)


# _inject_test.py


class TestInjectHyperparams:
    @pytest.mark.parametrize("inner", ["scale", "lrjax.sgd"])
    def test_updates(self, inner):
        step_size = _piecewise_constant(3.0, {1: 5, 7: 2, 12: 1.5})
        if inner == "scale":  # optax's own transform, driven by an lrjax schedule
            optim, sign = optax.inject_hyperparams(optax.scale)(step_size=step_size), 1.0
        else:
            optim, sign = optax.inject_hyperparams(lrjax.sgd)(learning_rate=step_size), -1.0

        params = [jnp.zeros([], dtype=jnp.float32)]
        state = jax.jit(optim.init)(params)
        state = optax.tree.map_params(optim, lambda v: v, state)  # a no-op map over the state

        update_fn = jax.jit(optim.update)
        expected_step_size = [3.0] * 2 + [15.0] * 6 + [30.0] * 5 + [45.0] * 3
        grads = [jnp.ones([], dtype=jnp.float32)]
        for i in range(15):
            updates, state = update_fn(grads, state, params=params)
            np.testing.assert_almost_equal(updates[0], sign * expected_step_size[i + 1])
            if inner == "lrjax.sgd":
                np.testing.assert_almost_equal(lrjax.applied_lr(state), expected_step_size[i + 1])

    def test_hyperparams_state(self):
        optim = optax.inject_hyperparams(lrjax.sgd)(
            learning_rate=0.1,
            momentum=_piecewise_constant(0.8, {3: 0.5, 9: 1.25}),
            nesterov=True,
        )
        params = [jnp.zeros([2, 3]) for _ in range(3)]
        state = jax.jit(optim.init)(params)
        update_fn = jax.jit(optim.update)

        expected_mom = [0.8] * 4 + [0.4] * 6 + [0.5] * 2
        grads = jax.tree.map(jnp.ones_like, params)
        for i in range(12):
            np.testing.assert_almost_equal(state.hyperparams["momentum"], expected_mom[i])
            _, state = update_fn(grads, state)
        np.testing.assert_almost_equal(state.hyperparams["momentum"], expected_mom[-1])

    def test_constant_hyperparams(self):
        optim = optax.inject_hyperparams(lrjax.scale_by_adam)(b1=0.0, b2=0.0)
        params = [jnp.zeros([2, 3]) for _ in range(3)]
        state = jax.jit(optim.init)(params)
        update_fn = jax.jit(optim.update)

        grads = jax.tree.map(jnp.ones_like, params)
        for _ in range(5):
            updates, state = update_fn(grads, state, params)
            np.testing.assert_almost_equal(state.hyperparams["b1"], 0.0)
            np.testing.assert_almost_equal(state.hyperparams["b2"], 0.0)
            np.testing.assert_almost_equal(state.hyperparams["eps"], 1e-8)
            np.testing.assert_almost_equal(state.hyperparams["eps_root"], 0.0)
            for got, want in zip(updates, grads, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-6)

    def test_overriding_hyperparam(self):
        optim = optax.inject_hyperparams(lrjax.sgd)(0.1)
        params = jnp.zeros((3, 5, 7))
        state = jax.jit(optim.init)(params)
        update_fn = jax.jit(optim.update)

        grads = jnp.ones_like(params)
        for i in range(5):
            state.hyperparams["learning_rate"] = i
            updates, state = update_fn(grads, state)
            # The rate overridden in the state is the one applied: |update| = i * |grads|.
            assert np.isclose(jnp.linalg.norm(updates.ravel()), i * np.sqrt(grads.size))
            assert np.isclose(lrjax.applied_lr(state), i)

    @pytest.mark.parametrize("static_args", ["mask", ["mask"]], ids=["string", "list"])
    def test_static_args(self, static_args):
        @functools.partial(optax.inject_hyperparams, static_args=static_args)
        def custom_optim(learning_rate, mask):
            return optax.masked(lrjax.sgd(learning_rate), mask)

        optim = custom_optim(0.1, functools.partial(jax.tree.map, lambda x: x.ndim > 1))
        params = [jnp.ones((1, 2)), jnp.ones(2), jnp.ones((1, 1, 1))]
        grads = params
        state = jax.jit(optim.init)(params)
        updates, state = jax.jit(optim.update)(grads, state)
        expected_updates = jax.tree.map(lambda x: -0.1 * x if x.ndim > 1 else x, grads)

        assert set(state.hyperparams.keys()) == {"learning_rate"}, state.hyperparams
        for got, want in zip(updates, expected_updates, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6)

    @pytest.mark.parametrize("static_args", ["b1", ["b1", "b2"]], ids=["one_arg", "two_arg"])
    def test_numeric_static_args(self, static_args):
        optim = optax.inject_hyperparams(lrjax.scale_by_adam, static_args=static_args)(
            b1=0.9, b2=0.95
        )
        params = [jnp.ones((1, 2)), jnp.ones(2), jnp.ones((1, 1, 1))]
        state = jax.jit(optim.init)(params)
        _, state = jax.jit(optim.update)(params, state)

        assert "eps" in state.hyperparams  # the non-static numbers are still injected
        assert not set(state.hyperparams.keys()).intersection(set(static_args))

    @pytest.mark.parametrize(
        "hyperparam_dtype, param_dtype, grad_dtype",
        [
            (jnp.bfloat16, jnp.float32, jnp.bfloat16),
            (jnp.bfloat16, jnp.float32, jnp.float32),
            (jnp.float32, jnp.bfloat16, jnp.bfloat16),
            (jnp.float32, jnp.float32, jnp.bfloat16),
            (jnp.float32, jnp.bfloat16, jnp.float32),
        ],
        ids=[
            "bf16hyp f32param bf16grad",
            "bf16hyp f32param f32_grads",
            "f32hyp bf16param bf16grad",
            "f32hyp f32param bf16grad",
            "f32hyp bf16param f32grad",
        ],
    )
    def test_hyperparam_dtypes(self, hyperparam_dtype, param_dtype, grad_dtype):
        optim = optax.inject_hyperparams(lrjax.scale_by_adam, hyperparam_dtype=hyperparam_dtype)(
            b1=0.9, b2=0.95
        )
        params = [
            jnp.ones((1, 2), dtype=param_dtype),
            jnp.ones(2, dtype=param_dtype),
            jnp.ones((1, 1, 1), dtype=param_dtype),
        ]
        grads = jax.tree.map(lambda x: x.astype(grad_dtype), params)
        state = jax.jit(optim.init)(params)
        assert state.hyperparams["b1"].dtype == hyperparam_dtype
        assert state.hyperparams["b2"].dtype == hyperparam_dtype

        _, state = jax.jit(optim.update)(grads, state)
        assert state.hyperparams["b1"].dtype == hyperparam_dtype
        assert state.hyperparams["b2"].dtype == hyperparam_dtype

    @pytest.mark.parametrize("param_dtype", [jnp.bfloat16, jnp.float32], ids=["bf16", "f32"])
    def test_hyperparam_default_dtype(self, param_dtype):
        params = [jnp.ones((1, 2), dtype=param_dtype), jnp.ones(2, dtype=param_dtype)]

        def injected_dtypes(**hyperparams):
            optim = optax.inject_hyperparams(lrjax.scale_by_adam)(**hyperparams)
            state = jax.jit(optim.init)(params)
            return state.hyperparams["b1"].dtype, state.hyperparams["b2"].dtype

        assert injected_dtypes(b1=0.9, b2=0.95) == (param_dtype, param_dtype)
        assert injected_dtypes(b1=jnp.asarray(0.9), b2=jnp.asarray(0.95)) == (
            param_dtype,
            param_dtype,
        )
        explicit = injected_dtypes(
            b1=jnp.array(0.9, dtype=jnp.float32), b2=jnp.asarray(0.95, dtype=jnp.bfloat16)
        )
        assert explicit == (jnp.float32, jnp.bfloat16)

    @pytest.mark.parametrize("static_args", ["lr", ["lr"]], ids=["string", "list"])
    def test_static_args_error(self, static_args):
        # lrjax.sgd's rate is called learning_rate, so "lr" names no argument.
        with pytest.raises(ValueError):
            optax.inject_hyperparams(lrjax.sgd, static_args=static_args)

    @pytest.mark.parametrize("wrapped", [True, False], ids=["inject_hyperparams", "direct"])
    def test_inject_hyperparams_starts_with_step_count_zero(self, wrapped):
        # The rate is the step count itself, so a first update made at count 0 is zero.
        count = S.from_fn(lambda k: k)
        opt = optax.inject_hyperparams(lrjax.sgd)(count) if wrapped else lrjax.sgd(count)
        params = jnp.zeros(3)
        grads = jnp.array([-1, 0, 1])
        updates, state = jax.jit(opt.update)(grads, opt.init(params))
        np.testing.assert_array_equal(updates, np.zeros(3))
        np.testing.assert_array_equal(lrjax.applied_lr(state), 0.0)


class TestStateful:
    def test_wrap_stateless_schedule(self):
        my_schedule = S.linear(1.0, 1.0, 10)
        my_wrapped_schedule = optax.WrappedSchedule(my_schedule)

        count = jnp.zeros([], dtype=jnp.int32)
        state = my_wrapped_schedule.init()
        np.testing.assert_allclose(count, state, atol=0.0)

        for _ in range(8):
            np.testing.assert_allclose(my_schedule(count), my_wrapped_schedule(state), atol=0.0)
            count = count + 1
            state = my_wrapped_schedule.update(state, loss=jnp.ones([], dtype=jnp.float32))
            np.testing.assert_allclose(count, state, atol=0.0)
