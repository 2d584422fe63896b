"""lrjax's state readers with Flax NNX (issue 18): ``applied_lr`` on an ``nnx.Optimizer``'s
state and on ``nnx.state(optimizer)``, and the schedule-free evaluation parameters of an
NNX model. The models here are real NNX modules; the references are the same optimizer
run on plain pytrees."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

nnx = pytest.importorskip("flax.nnx")


def loss(model):
    return jnp.sum((model(jnp.array([[1.0, -2.0], [0.5, 3.0]])) - 1.0) ** 2)


def trained(tx, steps: int = 3):
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        optimizer.update(model, nnx.grad(loss)(model))
        return lrjax.applied_lr(optimizer.opt_state)

    rates = [step(model, optimizer) for _ in range(steps)]
    return model, optimizer, rates


def test_rates_logged_step_by_step_are_plain_arrays_of_each_step():
    """They were the optimizer's live OptArray: every logged rate read the last value."""
    model, optimizer, rates = trained(lrjax.adam(lrjax.schedules.linear(0.1, 0.0, 10)), 4)
    assert all(type(r) is type(jnp.zeros(())) for r in rates)
    np.testing.assert_allclose(rates, [0.1, 0.09, 0.08, 0.07], rtol=1e-6)
    assert float(lrjax.applied_lr(optimizer.opt_state)) == pytest.approx(0.07)


def test_applied_lr_reads_nnx_state_of_the_optimizer():
    """``nnx.state`` turns every NamedTuple of the state into a dict of its fields."""
    schedule = lrjax.schedules.cosine_decay(0.2, 20)
    _, optimizer, _ = trained(optax.chain(optax.clip_by_global_norm(1.0), lrjax.sgd(schedule, 0.9)))
    state = nnx.state(optimizer)
    assert isinstance(state["opt_state"][1], dict) or hasattr(state["opt_state"][1], "items")
    assert float(lrjax.applied_lr(state)) == pytest.approx(float(schedule(2)), rel=1e-6)


def test_groups_and_a_loss_aware_factor_through_nnx_state():
    """A partition's groups keep their labels, and a factor in series (reduce on plateau,
    whose state nests another NamedTuple) multiplies them, as on the plain state."""
    tx = optax.chain(
        optax.partition(
            {"w": lrjax.adam(1e-3), "b": lrjax.sgd(lrjax.schedules.linear(0.1, 0.0, 10))},
            lambda params: jax.tree_util.tree_map_with_path(
                lambda path, _: "w" if "kernel" in jax.tree_util.keystr(path) else "b", params
            ),
        ),
        lrjax.adaptive.reduce_on_plateau(factor=0.5, patience=0),
    )
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    for value in (1.0, 2.0, 3.0):  # worse and worse: the plateau halves the rate
        optimizer.update(model, nnx.grad(loss)(model), value=jnp.asarray(value))
    expected = {k: float(v) for k, v in lrjax.applied_lr(optimizer.opt_state).items()}
    assert expected["w"] < 1e-3 and set(expected) == {"w", "b"}
    from_state = lrjax.applied_lr(nnx.state(optimizer))
    assert {k: float(v) for k, v in from_state.items()} == pytest.approx(expected, rel=1e-6)


def test_schedule_free_eval_params_of_an_nnx_model_equal_the_plain_run():
    """It raised a pytree structure error (OptVariable against Param)."""
    tx = lrjax.adaptive.schedule_free_adamw(1e-2, warmup_steps=2)
    model, optimizer, _ = trained(tx, 5)
    x = lrjax.schedule_free_eval_params(optimizer.opt_state, nnx.state(model, nnx.Param))
    assert isinstance(x["kernel"], nnx.Param)
    # the same optimizer on the plain pytree of the same initial weights
    params = jax.tree.map(
        jnp.asarray, nnx.to_pure_dict(nnx.state(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), nnx.Param))
    )
    state = tx.init(params)
    for _ in range(5):
        grads = jax.grad(
            lambda p: jnp.sum(
                (jnp.array([[1.0, -2.0], [0.5, 3.0]]) @ p["kernel"] + p["bias"] - 1.0) ** 2
            )
        )(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    reference = lrjax.schedule_free_eval_params(state, params)
    for name in ("kernel", "bias"):
        np.testing.assert_allclose(x[name].get_value(), reference[name], rtol=1e-6, atol=1e-7)
    nnx.update(model, x)  # the result goes straight back into the model
    np.testing.assert_allclose(model.kernel.get_value(), reference["kernel"], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="shapes of the schedule-free iterate"):
        lrjax.schedule_free_eval_params(optimizer.opt_state, {"kernel": jnp.zeros((2, 1))})


def test_a_layer_norm_scale_in_the_moments_is_not_read_as_a_state():
    """nnx.LayerNorm without a bias holds one parameter, ``scale``, the one field of
    ScaleByLossState: inside the momentum it is a parameter, and the rate is one number
    (it was read as a loss scale, giving the rate as an array of 3)."""
    norm = nnx.LayerNorm(3, use_bias=False, rngs=nnx.Rngs(1))
    model = nnx.Sequential(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), norm)
    optimizer = nnx.Optimizer(model, lrjax.sgd(0.1, 0.9), wrt=nnx.Param)
    x = jnp.array([[1.0, -2.0], [0.5, 3.0]])
    optimizer.update(model, nnx.grad(lambda m: jnp.sum(m(x) ** 2))(model))
    for state in (optimizer.opt_state, nnx.state(optimizer)):
        rate = lrjax.applied_lr(state)
        assert jnp.shape(rate) == ()
        assert float(rate) == pytest.approx(0.1)
