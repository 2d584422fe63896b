"""NovoGrad against a NumPy float64 transcription of Ginsburg et al. 2019, Algorithm 1 (with
optax's first step: v₁ = ‖g₁‖², m₁ = g₁ / (sqrt(v₁) + eps) + λ θ₀) and against optax.

The model has a matrix, a bias and a scalar leaf, each with its own second moment.
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
from lrjax.transforms import ScaleByNovogradState, scale_by_novograd

STEPS = 15
P0 = {"w": [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]], "b": [0.1, -0.2], "s": 1.5}
SCHED = S.warmup(S.cosine_decay(0.05, STEPS), 3, init=0.01)


def params(dtype=jnp.float32):
    return {k: jnp.asarray(v, dtype) for k, v in P0.items()}


def loss(p):
    x = jnp.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], p["w"].dtype)
    h = jnp.tanh(x @ p["w"] + p["b"]) * p["s"]
    return jnp.sum((h - jnp.array([0.5, -0.25], h.dtype)) ** 2)


def trajectory(opt, p0, n=STEPS):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    (_, state), ps = jax.lax.scan(step, (p0, opt.init(p0)), length=n)
    return ps, state


def numpy_novograd(lr, b1, b2, eps, eps_root, weight_decay):
    p = {k: np.asarray(v, np.float64) for k, v in P0.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {}
    grad64 = jax.jit(jax.grad(loss))
    out = []
    for t in range(STEPS):
        g = {k: np.asarray(x, np.float64) for k, x in grad64(p).items()}
        rate = float(lr(t))
        for k in p:
            norm2 = float(np.sum(g[k] ** 2))
            v[k] = norm2 if t == 0 else b2 * v[k] + (1 - b2) * norm2
            m[k] = b1 * m[k] + g[k] / (np.sqrt(v[k] + eps_root) + eps) + weight_decay * p[k]
            p[k] = p[k] - rate * m[k]
        out.append({k: x.copy() for k, x in p.items()})
    return {k: np.stack([o[k] for o in out]) for k in p}


def assert_close(got, want, rtol, atol=0.0):
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize(
    "hyper",
    [(0.9, 0.25, 1e-6, 0.0, 0.0), (0.95, 0.98, 1e-8, 1e-6, 1e-2)],
    ids=["defaults", "eps_root,weight_decay"],
)
def test_novograd_with_a_schedule_follows_the_paper(hyper, x64):
    got, state = jax.jit(lambda: trajectory(lrjax.novograd(SCHED, *hyper), params(jnp.float64)))()
    assert_close(got, numpy_novograd(SCHED, *hyper), rtol=1e-10, atol=1e-12)
    theirs, _ = jax.jit(lambda: trajectory(optax.novograd(SCHED, *hyper), params(jnp.float64)))()
    assert_close(got, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lrjax.applied_lr(state), SCHED(STEPS - 1), rtol=1e-12)
    assert float(jnp.max(jnp.abs(got["w"][-1] - params(jnp.float64)["w"]))) > 1e-2


def test_second_moment_is_one_float32_scalar_per_leaf():
    opt = scale_by_novograd()
    state = opt.init(params(jnp.bfloat16))
    assert isinstance(state, ScaleByNovogradState)
    assert all(x.shape == () and x.dtype == jnp.float32 for x in jax.tree.leaves(state.nu))
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(state.mu))
    # the first update sets v to ‖g‖² (not (1 - b2) ‖g‖²) and m to g / ‖g‖
    g = {"w": jnp.full((3, 2), 2.0), "b": jnp.array([3.0, 4.0]), "s": jnp.asarray(-0.5)}
    out, state = opt.update(g, opt.init(params()), params())
    np.testing.assert_allclose(state.nu["w"], 24.0)
    np.testing.assert_allclose(state.nu["b"], 25.0)
    np.testing.assert_allclose(out["b"], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(out["s"], -1.0, rtol=1e-6)


def test_bfloat16_params_stay_bfloat16_and_track_float32():
    got, _ = jax.jit(lambda: trajectory(lrjax.novograd(0.02), params(jnp.bfloat16)))()
    ref, _ = jax.jit(lambda: trajectory(lrjax.novograd(0.02), params()))()
    for k in ref:
        assert got[k].dtype == jnp.bfloat16
        np.testing.assert_allclose(np.asarray(got[k], np.float32), ref[k], atol=0.03)


def test_a_zero_gradient_with_eps_0_gives_a_zero_step_where_optax_gives_nan():
    p = {"w": jnp.ones(3), "frozen": jnp.ones(2)}
    g = {"w": jnp.array([1.0, -2.0, 2.0]), "frozen": jnp.zeros(2)}
    ours, theirs = lrjax.novograd(0.1, eps=0.0), optax.novograd(0.1, eps=0.0)
    u, _ = ours.update(g, ours.init(p), p)
    np.testing.assert_array_equal(u["frozen"], 0.0)
    np.testing.assert_allclose(u["w"], -0.1 * np.array([1.0, -2.0, 2.0]) / 3.0, rtol=1e-6)
    v, _ = theirs.update(g, theirs.init(p), p)
    assert np.isnan(v["frozen"]).all()


def test_a_nan_gradient_stays_visible():
    opt = lrjax.novograd(0.1, eps=0.0)
    p = {"w": jnp.ones(3)}
    _, state = opt.update({"w": jnp.array([jnp.nan, 0.0, 0.0])}, opt.init(p), p)
    assert np.isnan(state[0].nu["w"])
    u, _ = opt.update({"w": jnp.zeros(3)}, state, p)  # a NaN v does not become a 0 step
    assert np.isnan(u["w"]).all()


def test_params_are_needed_only_for_weight_decay():
    g = {"w": jnp.ones(2)}
    opt = lrjax.novograd(0.1)
    opt.update(g, opt.init(g))
    decayed = lrjax.novograd(0.1, weight_decay=1e-2)
    with pytest.raises(ValueError, match="params"):
        decayed.update(g, decayed.init(g))


def test_traced_hyperparameters_do_not_recompile():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(b2, wd):
        return trajectory(lrjax.novograd(0.05, b2=b2, weight_decay=wd), params(), 4)[0]

    a = run(jnp.float32(0.25), jnp.float32(0.0))
    b = run(jnp.float32(0.9), jnp.float32(0.1))
    assert float(jnp.max(jnp.abs(a["w"] - b["w"]))) > 1e-4


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"b1": 1.0}, "b1"),
        ({"b2": -0.1}, "b2"),
        ({"eps": -1.0}, "eps"),
        ({"weight_decay": -1.0}, "weight_decay"),
    ],
)
def test_invalid_values_are_refused_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lrjax.novograd(0.1, **kwargs)
