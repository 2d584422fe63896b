"""DoG, LDoG and the polynomial-decay averager against dog-optimizer 1.0.3."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import assert_vmap_matches_loop, load_cases, run

import lrjax
from lrjax.adaptive import DoGState, averaged_params, dog, polynomial_average
from lrjax.compat import dog as compat_dog
from lrjax.transforms.base import find_states

CASES = load_cases("dog")


def _state(state):
    return find_states(state, DoGState)[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_trajectory_and_step_sizes(case, x64):
    opt = getattr(compat_dog, case["class"].rsplit(".", 1)[-1])(**case["kwargs"])
    if "averaged" in case:
        opt = compat_dog.PolynomialDecayAverager(opt, gamma=8)

    def record(state):
        s = _state(state)
        scalars = jnp.stack([s.eta, s.rbar, s.G])
        return jnp.concatenate([scalars, averaged_params(state)]) if "averaged" in case else scalars

    trajectory, rec = run(opt, case["n_steps"], record)
    np.testing.assert_allclose(trajectory, case["trajectory"], rtol=1e-10, atol=1e-12)
    for i, key in enumerate(["eta", "rbar", "G"]):
        want = np.asarray(case[key]).reshape(len(rec), -1)[:, 0]
        np.testing.assert_allclose(rec[:, i], want, rtol=1e-10, err_msg=key)
    if "averaged" in case:
        averaged = np.vstack([np.asarray(case["averaged"][0])[None], rec[:, 3:]])
        np.testing.assert_allclose(averaged, case["averaged"], rtol=1e-10, atol=1e-12)


def test_layerwise_keeps_one_step_size_per_leaf(x64):
    params = {"a": jnp.ones(3), "b": 10 * jnp.ones(2)}
    opt = dog(layerwise=True, reps_rel=1e-2)
    state = opt.init(params)
    grads = {"a": jnp.ones(3), "b": jnp.full(2, 100.0)}
    updates, state = opt.update(grads, state, params)
    s = _state(state)
    for k in params:  # η = reps_rel (1 + |x0|) / sqrt(|g0|² + eps) per leaf
        norm_x, norm_g = np.linalg.norm(params[k]), np.linalg.norm(grads[k])
        eta = 1e-2 * (1 + norm_x) / np.sqrt(norm_g**2 + 1e-8)
        np.testing.assert_allclose(s.eta[k], eta, rtol=1e-12)
        np.testing.assert_allclose(updates[k], -eta * grads[k], rtol=1e-12)


def test_init_eta_sets_the_first_step(x64):
    opt = dog(init_eta=0.25)
    p = jnp.ones(2)
    updates, state = opt.update(jnp.array([1.0, -2.0]), opt.init(p), p)
    np.testing.assert_allclose(updates, [-0.25, 0.5])
    np.testing.assert_allclose(lrjax.applied_lr(state), 0.25)


def test_average_weights(x64):
    """x̄_1 = x_1; afterwards the weight (1 + γ) / (t + γ) on the newest iterate."""
    opt = polynomial_average(optax.sgd(1.0), gamma=2.0)
    p = jnp.zeros(1)
    state = opt.init(p)
    xs, want = [], None
    for t in range(1, 6):
        u, state = opt.update(-jnp.ones(1) * t, state, p)
        p = optax.apply_updates(p, u)
        xs.append(float(p[0]))
        w = 3.0 / (t + 2.0)
        want = xs[0] if t == 1 else (1 - w) * want + w * xs[-1]
        np.testing.assert_allclose(averaged_params(state), [want], rtol=1e-12)


@pytest.mark.parametrize("field", ["reps_rel", "learning_rate", "weight_decay"])
def test_vmap_equals_loop_without_recompiling(field):
    values = {
        "reps_rel": [1e-6, 1e-4, 1e-2],
        "learning_rate": [0.5, 1.0, 1.5],
        "weight_decay": [0.0, 1e-3, 1e-2],
    }[field]
    base = dict(reps_rel=1e-4, learning_rate=1.0, weight_decay=0.0)
    assert_vmap_matches_loop(dog, field, values, base, steps=60)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: dog(reps_rel=0.0), "reps_rel"),
        (lambda: dog(init_eta=-1.0), "init_eta"),
        (lambda: dog(eps=0.0), "eps"),
        (lambda: dog(learning_rate=0.0), "learning_rate"),
        (lambda: compat_dog.DoG(lr=-1.0), "lr"),
        (lambda: polynomial_average(optax.sgd(1.0), gamma=-1.0), "gamma"),
    ],
)
def test_bad_values_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()
