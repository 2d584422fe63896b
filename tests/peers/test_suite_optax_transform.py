"""optax's own gradient-transformation tests, ported to lrjax's ``scale_by_*`` pieces.

Peer: ``optax/_src/transform_test.py`` from google-deepmind/optax, release 0.2.8 (commit
107e9ad20ca62bcbee1a8c016daab71c690a678c; identical to the file installed with optax 0.2.8).

Mapping: ``optax.scale_by_adadelta``/``scale_by_adam``/``scale_by_adamax``/``scale_by_rms``
map to ``lrjax.scale_by_adadelta``/``scale_by_adam``/``scale_by_adamax``/``scale_by_rms``
(optax's rms defaults passed explicitly: ``decay=0.9, eps_in_sqrt=True``);
``optax.scale_by_distance_over_gradients`` (layer-wise DoG) maps to
``lrjax.adaptive.dog(layerwise=True)``; ``optax.sgd`` and ``optax.trace``/``optax.scale``
map to ``lrjax.sgd``, ``lrjax.scale_by_momentum`` and ``lrjax.scale_by_learning_rate``.

Not applicable:
- test_scalers cases adan, lion, polyak, stddev, trust_ratio, param_block_norm,
  param_block_rms, normalize_by_update_norm: lrjax has no such transformation.
- test_centralize: lrjax has no gradient centralization.
- test_scale_by_optimistic_gradient: lrjax has no optimistic gradient transformation.
- test_lion_modes_variants, test_lion_invalid_mode_raises: lrjax has no Lion.
- test_scale_by_polyak_l1_norm: lrjax has no Polyak step size.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax

STEPS = 50
LR = 1e-2
INIT_PARAMS = (jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0]))
PER_STEP_UPDATES = (jnp.array([500.0, 5.0]), jnp.array([300.0, 3.0]))


def _assert_trees_close(actual, desired, **tol):
    assert jax.tree.structure(actual) == jax.tree.structure(desired)
    for a, d in zip(jax.tree.leaves(actual), jax.tree.leaves(desired), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(d), **tol)


def _assert_finite(tree):
    for leaf in jax.tree.leaves(tree):
        assert np.all(np.isfinite(np.asarray(leaf)))


SCALERS = {
    "adadelta": lrjax.scale_by_adadelta,
    "adam": lrjax.scale_by_adam,
    "adamax": lrjax.scale_by_adamax,
    "rmsprop": lambda: lrjax.scale_by_rms(decay=0.9, eps_in_sqrt=True),
    # lrjax differs: its layer-wise DoG is a full optimizer (the step carries the minus
    # sign), not a scaling; finiteness and shapes are what this test checks.
    "distance_over_gradients": lambda: lrjax.adaptive.dog(layerwise=True),
}


@pytest.mark.parametrize("name", list(SCALERS))
def test_scalers(name):
    params = INIT_PARAMS
    scaler = SCALERS[name]()
    state = jax.jit(scaler.init)(params)
    _assert_finite(state)
    updates, state = jax.jit(scaler.update)(PER_STEP_UPDATES, state, params)
    _assert_finite((params, updates, state))
    assert jax.tree.map(jnp.shape, updates) == jax.tree.map(jnp.shape, params)


def test_apply_every():
    k = 4
    zero_update = (jnp.array([0.0, 0.0]), jnp.array([0.0, 0.0]))

    sgd = lrjax.sgd(LR, 0.0)
    sgd_params, sgd_state = INIT_PARAMS, sgd.init(INIT_PARAMS)

    # optax's chain(apply_every, trace(0), scale(-LR)), with lrjax's momentum and rate.
    every = optax.chain(
        optax.apply_every(k=k),
        lrjax.scale_by_momentum(0.0, nesterov=False),
        lrjax.scale_by_learning_rate(LR),
    )
    every_params, every_state = INIT_PARAMS, every.init(INIT_PARAMS)
    update_every = jax.jit(every.update)

    for i in range(STEPS):
        updates, sgd_state = sgd.update(PER_STEP_UPDATES, sgd_state)
        sgd_params = optax.apply_updates(sgd_params, updates)
        every_updates, every_state = update_every(PER_STEP_UPDATES, every_state)
        every_params = optax.apply_updates(every_params, every_updates)
        if i % k == k - 1:
            _assert_trees_close(every_params, sgd_params, atol=1e-6, rtol=1e-5)
        else:
            _assert_trees_close(every_updates, zero_update, atol=0.0, rtol=0.0)


def test_scale():
    updates = PER_STEP_UPDATES
    for i in range(1, STEPS + 1):
        factor = 0.1**i
        # lrjax differs: lrjax.scale_by_learning_rate(f) multiplies by -f (a descent step,
        # its docstring); optax.scale(f) multiplies by +f.
        rescaler = lrjax.scale_by_learning_rate(factor)
        scaled, _ = rescaler.update(updates, rescaler.init(updates))
        manual = jax.tree.map(lambda t, f=factor: -t * f, updates)
        _assert_trees_close(scaled, manual, rtol=1e-6)


def test_rms_match_adam():
    """scale_by_rms with eps outside the root and bias correction is Adam with b1 = 0."""

    def fun(x):
        return optax.tree.norm(x, squared=True)

    rms = lrjax.scale_by_rms(decay=0.999, eps_in_sqrt=False, bias_correction=True)
    adam = lrjax.scale_by_adam(b1=0)
    rms_params, rms_state = INIT_PARAMS, rms.init(INIT_PARAMS)
    adam_params, adam_state = INIT_PARAMS, adam.init(INIT_PARAMS)

    for _ in range(5):
        rms_updates, rms_state = rms.update(jax.grad(fun)(rms_params), rms_state)
        rms_params = optax.apply_updates(rms_params, rms_updates)
        adam_updates, adam_state = adam.update(jax.grad(fun)(adam_params), adam_state)
        adam_params = optax.apply_updates(adam_params, adam_updates)

    _assert_trees_close(adam_params, rms_params, rtol=1e-6)
