"""`lrjax.train_state.apply_gradients`: a Linen ``TrainState`` step that forwards
``value=`` (issue 18), against the same update written out with optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

train_state = pytest.importorskip("flax.training.train_state")


def test_a_loss_aware_step_forwards_the_loss_and_counts():
    params = {"w": jnp.array([1.0, -2.0])}
    tx = optax.chain(lrjax.sgd(0.1), lrjax.adaptive.reduce_on_plateau(factor=0.5, patience=0))
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=tx)
    with pytest.raises(ValueError, match="needs the loss"):  # Linen's own step
        state.apply_gradients(grads=params)
    reference_params, reference_state = params, tx.init(params)
    for value in (3.0, 4.0, 5.0):  # worse each time: the plateau halves the rate
        grads = {"w": jnp.array([0.5, 0.25])}
        state = lrjax.train_state.apply_gradients(state, grads, value=jnp.asarray(value))
        updates, reference_state = tx.update(
            grads, reference_state, reference_params, value=jnp.asarray(value)
        )
        reference_params = optax.apply_updates(reference_params, updates)
    assert int(state.step) == 3
    np.testing.assert_array_equal(state.params["w"], reference_params["w"])
    assert float(lrjax.applied_lr(state.opt_state)) == pytest.approx(0.1 * 0.5**2)


def test_a_plain_transformation_takes_no_extra_argument_and_still_steps():
    params = {"w": jnp.ones(3)}
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=lrjax.adam(0.1))
    ours = lrjax.train_state.apply_gradients(state, params, value=jnp.asarray(1.0))
    theirs = state.apply_gradients(grads=params)
    jax.tree.map(np.testing.assert_array_equal, ours.params, theirs.params)
    assert int(ours.step) == int(theirs.step) == 1
