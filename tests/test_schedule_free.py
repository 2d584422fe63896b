"""Schedule-free SGD and AdamW against the schedulefree 1.4.1 reference trajectories
(y, x, z and the scalar state), plus tracing and the evaluation parameters."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import load_cases, run

import lrjax
from lrjax.adaptive import ScheduleFreeState, schedule_free_adamw, schedule_free_sgd
from lrjax.compat import schedulefree
from lrjax.transforms.base import find_states

CASES = load_cases("schedule_free")


def _sf_state(state):
    return find_states(state, ScheduleFreeState)[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_iterates(case, x64):
    opt = getattr(schedulefree, case["class"].rsplit(".", 1)[-1])(**case["kwargs"])

    def record(state):
        s = _sf_state(state)
        return jnp.concatenate([s.x, s.z, jnp.stack([s.learning_rate, s.lr_max, s.weight_sum])])

    y, rec = run(opt, case["n_steps"], record)
    p0 = np.asarray(case["trajectory"][0])[None]
    x, z = np.vstack([p0, rec[:, :7]]), np.vstack([p0, rec[:, 7:14]])
    tol = dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y, case["trajectory"], **tol)
    np.testing.assert_allclose(x, case["x_eval"], **tol)
    np.testing.assert_allclose(z, case["z"], **tol)
    np.testing.assert_allclose(rec[:, 14], case["scheduled_lr"], rtol=1e-12)
    np.testing.assert_allclose(rec[:, 15], case["lr_max"], rtol=1e-12)
    np.testing.assert_allclose(rec[:, 16], case["weight_sum"], rtol=1e-12)


def test_eval_params_is_x_and_matches_optax(x64):
    """optax's schedule_free_sgd (no r, no warmup) gives the same y and x."""
    ours = schedule_free_sgd(0.1, 0.9)
    theirs = optax.contrib.schedule_free_sgd(0.1, b1=0.9)
    A = jnp.diag(jnp.arange(1.0, 5.0))
    p = q = jnp.ones(4)
    s, t = ours.init(p), theirs.init(q)
    for _ in range(25):
        u, s = ours.update(A @ p, s, p)
        v, t = theirs.update(A @ q, t, q)
        p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
    np.testing.assert_allclose(p, q, rtol=1e-10)
    np.testing.assert_allclose(
        lrjax.schedule_free_eval_params(s, p),
        optax.contrib.schedule_free_eval_params(t, q),
        rtol=1e-9,
    )


@pytest.mark.parametrize("field", ["learning_rate", "b1", "warmup_steps", "r", "weight_decay"])
def test_vmap_equals_loop_without_recompiling(field):
    values = {
        "learning_rate": [0.01, 0.02, 0.05],
        "b1": [0.5, 0.9, 0.95],
        "warmup_steps": [0, 5, 20],
        "r": [0.0, 0.5, 1.0],
        "weight_decay": [0.0, 0.01, 0.1],
    }[field]
    base = dict(learning_rate=0.02, b1=0.9, warmup_steps=3, r=0.0, weight_decay=0.0)
    A = jnp.diag(jnp.arange(1.0, 5.0))

    def final(v):
        kw = {**base, field: v}
        opt = schedule_free_adamw(kw.pop("learning_rate"), kw.pop("b1"), **kw)

        def step(carry, _):
            p, s = carry
            u, s = opt.update(A @ p - 1.0, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (jnp.ones(4), opt.init(jnp.ones(4))), length=30)
        return lrjax.schedule_free_eval_params(s, p)

    single = jax.jit(chex.assert_max_traces(final, n=1))
    batched = jax.jit(jax.vmap(final))(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_allclose(batched[i], single(jnp.asarray(v)), rtol=1e-6, atol=1e-7)
    assert not np.allclose(batched[0], batched[-1])  # the hyperparameter matters


def _python_schedule_free_sgd(grads, p, lr, b1, wd, at_z):
    """The documented recursion, plainly, with r = 0, weight_lr_power = 2, no warmup."""
    z, x, y = p.copy(), p.copy(), p.copy()
    lr_max = weight_sum = 0.0
    for g in grads:
        lr_max = max(lr_max, lr)
        weight_sum += lr_max**2
        c = lr_max**2 / weight_sum
        z = z - lr * (g + wd * (z if at_z else y))
        x = (1 - c) * x + c * z
        y = b1 * x + (1 - b1) * z
    return y, x, z


@pytest.mark.parametrize("at_z", [False, True])
def test_weight_decay_at_y_or_z_follows_the_recursion(at_z, x64):
    p = np.array([1.0, -2.0])
    grads = [np.array([1.0, 1.0]), np.zeros(2), np.zeros(2), np.array([0.5, -1.0])]
    opt = schedule_free_sgd(0.1, 0.8, weight_decay=0.5, decay_at_z=at_z)
    state, q = opt.init(jnp.asarray(p)), jnp.asarray(p)
    for g in grads:
        u, state = opt.update(jnp.asarray(g), state, q)
        q = optax.apply_updates(q, u)
    y, x, z = _python_schedule_free_sgd(grads, p, 0.1, 0.8, 0.5, at_z)
    np.testing.assert_allclose(q, y, rtol=1e-12)
    np.testing.assert_allclose(_sf_state(state).x, x, rtol=1e-12)
    np.testing.assert_allclose(_sf_state(state).z, z, rtol=1e-12)
    other = _python_schedule_free_sgd(grads, p, 0.1, 0.8, 0.5, not at_z)[2]
    assert not np.allclose(z, other)  # the choice matters on this sequence


def test_training_converges_at_x():
    A = jnp.diag(jnp.array([1.0, 10.0, 100.0]))
    opt = schedule_free_adamw(0.05, warmup_steps=10)

    def step(carry, _):
        p, s = carry
        u, s = opt.update(A @ p, s, p)
        return (optax.apply_updates(p, u), s), None

    (p, s), _ = jax.jit(
        lambda: jax.lax.scan(step, (jnp.ones(3), opt.init(jnp.ones(3))), length=500)
    )()
    x = lrjax.schedule_free_eval_params(s, p)
    assert float(x @ A @ x) < 1e-4 * float(jnp.ones(3) @ A @ jnp.ones(3))


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: schedule_free_sgd(-1.0), "learning_rate"),
        (lambda: schedule_free_sgd(0.1, 1.0), "b1"),
        (lambda: schedule_free_sgd(0.1, 0.0), "b1"),
        (lambda: schedule_free_sgd(0.1, warmup_steps=-1), "warmup_steps"),
        (lambda: schedule_free_adamw(0.1, b2=1.0), "b2"),
        (lambda: schedule_free_adamw(0.1, weight_decay=-0.1), "weight_decay"),
        (lambda: schedulefree.SGDScheduleFree(momentum=1.0), "momentum"),
        (lambda: schedulefree.AdamWScheduleFree(lr=-1.0), "lr"),
    ],
)
def test_bad_values_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_needs_params():
    opt = schedule_free_sgd(0.1)
    with pytest.raises(ValueError, match="params"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))
