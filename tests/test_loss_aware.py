"""Loss-scaled rates and decay on a gradient stall, against plain-Python readings of their
documented rules."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.adaptive import decay_on_gradient_stall, scale_by_loss


def test_loss_scaled_rate_closed_form():
    opt = optax.chain(lrjax.sgd(0.1), scale_by_loss(delta=2.0))
    params = jnp.zeros(3)
    state = opt.init(params)
    for loss in [0.0, 1.5, 10.0, 0.25]:
        updates, state = opt.update(jnp.ones(3), state, params, value=loss)
        rate = 0.1 / np.sqrt(1 + 2.0 * loss)
        np.testing.assert_allclose(updates, -rate * np.ones(3), rtol=1e-6)
        np.testing.assert_allclose(lrjax.applied_lr(state), rate, rtol=1e-6)


def test_loss_scaled_rate_stays_finite_below_minus_one_over_delta():
    opt = scale_by_loss(delta=1.0)
    updates, _ = opt.update(jnp.ones(2), opt.init(jnp.ones(2)), value=-3.0)
    assert np.all(np.isfinite(updates)) and np.all(np.asarray(updates) > 1.0)


def test_loss_scaled_rate_needs_value_and_checks_delta():
    opt = scale_by_loss(1.0)
    with pytest.raises(ValueError, match="value=loss"):
        opt.update(jnp.ones(1), opt.init(jnp.ones(1)))
    with pytest.raises(ValueError, match="delta"):
        scale_by_loss(-1.0)


def test_loss_scaled_rate_vmaps_over_delta():
    deltas = jnp.array([0.0, 0.5, 4.0])

    def factor(delta):
        opt = scale_by_loss(delta)
        updates, _ = opt.update(jnp.ones(1), opt.init(jnp.ones(1)), value=3.0)
        return updates[0]

    batched = jax.vmap(factor)(deltas)
    np.testing.assert_allclose(batched, [float(factor(d)) for d in deltas], rtol=1e-7)
    np.testing.assert_allclose(batched, 1 / np.sqrt(1 + 3.0 * np.asarray(deltas)), rtol=1e-6)


def _python_stall(norms, factor, patience, threshold, decay, cooldown, min_scale):
    avg, k, cool, scale, out = 0.0, 0, 0, 1.0, []
    for t, n in enumerate(norms):
        new = n if t == 0 else decay * avg + (1 - decay) * n
        stalled = t > 0 and abs(new - avg) < threshold * avg
        avg = new
        k = k + 1 if stalled else 0
        if cool > 0:
            cool, k = cool - 1, 0
        if k >= patience:
            scale, cool, k = max(scale * factor, min_scale), cooldown, 0
        out.append(scale)
    return out


def _run_stall(opt, norms):
    def step(state, n):
        updates, state = opt.update({"g": jnp.array([n, 0.0])}, state)
        return state, (updates["g"][0] / n, lrjax.applied_lr(state))

    _, (ratio, applied) = jax.lax.scan(step, opt.init({"g": jnp.zeros(2)}), jnp.asarray(norms))
    return ratio, applied


# A norm that falls, then flattens (with a small wobble), then jumps and flattens again.
NORMS = np.concatenate(
    [np.geomspace(10.0, 1.0, 15), 1.0 + 1e-4 * np.sin(np.arange(40)), np.full(25, 3.0)]
)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(factor=0.5, patience=3, threshold=1e-3, decay=0.9, cooldown=0, min_scale=0.0),
        dict(factor=0.3, patience=5, threshold=1e-2, decay=0.5, cooldown=4, min_scale=0.05),
        dict(factor=0.9, patience=1, threshold=0.0, decay=0.0, cooldown=2, min_scale=0.5),
    ],
)
def test_stall_follows_the_rule(kwargs):
    ratio, applied = _run_stall(decay_on_gradient_stall(**kwargs), NORMS)
    want = _python_stall(NORMS, **kwargs)
    np.testing.assert_allclose(ratio, want, rtol=1e-6)
    np.testing.assert_allclose(applied, want, rtol=1e-6)


def test_stall_reduces_on_the_flat_stretch_only():
    _, applied = _run_stall(decay_on_gradient_stall(0.5, 3, 1e-3, decay=0.5), NORMS)
    assert applied[14] == 1.0  # no reduction while the norm is still falling
    assert applied[54] < 1.0  # reduced on the plateau


@pytest.mark.parametrize("field", ["factor", "patience", "threshold", "decay", "cooldown"])
def test_stall_vmap_equals_loop_without_recompiling(field):
    values = {
        "factor": [0.2, 0.5, 0.8],
        "patience": [1, 3, 6],
        "threshold": [1e-4, 1e-3, 1e-2],
        "decay": [0.0, 0.5, 0.9],
        "cooldown": [0, 3, 8],
    }[field]
    base = dict(factor=0.5, patience=3, threshold=1e-3, decay=0.9, cooldown=1, min_scale=0.0)

    def final_scale(v):
        return _run_stall(decay_on_gradient_stall(**{**base, field: v}), NORMS)[1][-1]

    single = jax.jit(chex.assert_max_traces(final_scale, n=1))
    batched = jax.jit(jax.vmap(final_scale))(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_allclose(batched[i], single(jnp.asarray(v)), rtol=1e-7)
        want = _python_stall(NORMS, **{**base, field: v})[-1]
        np.testing.assert_allclose(batched[i], want, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(factor=1.0), "factor"),
        (dict(patience=0), "patience"),
        (dict(threshold=-1.0), "threshold"),
        (dict(decay=1.0), "decay"),
        (dict(cooldown=-1), "cooldown"),
        (dict(min_scale=-0.1), "min_scale"),
    ],
)
def test_stall_bad_values_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        decay_on_gradient_stall(**kwargs)
