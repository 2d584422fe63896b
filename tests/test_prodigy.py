"""Prodigy against prodigyopt 1.1.2: trajectory, the d estimate and its statistics."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import assert_vmap_matches_loop, load_cases, run

import lrjax
from lrjax.adaptive import ProdigyState, prodigy
from lrjax.compat import prodigyopt
from lrjax.transforms.base import find_states

CASES = load_cases("prodigy")


def _state(state):
    return find_states(state, ProdigyState)[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_trajectory_and_d(case, x64):
    opt = prodigyopt.Prodigy(**case["kwargs"])

    def record(state):
        s = _state(state)
        return jnp.stack([s.d, s.d_max, s.numerator])

    trajectory, rec = run(opt, case["n_steps"], record)
    np.testing.assert_allclose(trajectory, case["trajectory"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rec[:, 0], case["d"][1:], rtol=1e-10)
    np.testing.assert_allclose(rec[:, 1], case["d_max"], rtol=1e-10)
    np.testing.assert_allclose(rec[:, 2], case["d_numerator"], rtol=1e-10, atol=1e-300)


def test_applied_lr_is_d_times_lr_and_grows_from_d0(x64):
    opt = prodigy()
    p = jnp.ones(3)
    state = opt.init(p)
    assert float(lrjax.applied_lr(state)) == 0.0
    ds = []
    for _ in range(30):
        u, state = opt.update(2 * p, state, p)
        ds.append(float(_state(state).d))
        p = optax.apply_updates(p, u)
    assert ds[-1] > 1e3 * 1e-6  # the estimate grew from d0
    assert all(b >= a for a, b in zip(ds, ds[1:], strict=False))  # d never decreases


def test_zero_gradient_takes_no_step():
    opt = prodigy()
    p = jnp.ones(2)
    updates, state = opt.update(jnp.zeros(2), opt.init(p), p)
    np.testing.assert_array_equal(updates, 0.0)
    assert int(_state(state).count) == 0 and float(_state(state).d) == pytest.approx(1e-6)


@pytest.mark.parametrize("field", ["d_coef", "b2", "weight_decay", "growth_rate"])
def test_vmap_equals_loop_without_recompiling(field):
    values = {
        "d_coef": [0.5, 1.0, 2.0],
        "b2": [0.99, 0.999, 0.9999],
        "weight_decay": [0.0, 0.01, 0.1],
        "growth_rate": [1.02, 1.5, float("inf")],
    }[field]
    base = dict(d_coef=1.0, b2=0.999, weight_decay=0.01, growth_rate=float("inf"))
    assert_vmap_matches_loop(prodigy, field, values, base, steps=40)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: prodigy(0.0), "learning_rate"),
        (lambda: prodigy(d0=0.0), "d0"),
        (lambda: prodigy(d_coef=-1.0), "d_coef"),
        (lambda: prodigy(growth_rate=0.5), "growth_rate"),
        (lambda: prodigy(b3=1.0), "b3"),
        (lambda: prodigyopt.Prodigy(betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda: prodigyopt.Prodigy(slice_p=11), "slice_p"),
    ],
)
def test_bad_values_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()
