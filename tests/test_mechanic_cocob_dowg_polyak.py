"""Mechanic, COCOB-Backprop, DoWG and the Polyak step size against their references.

* The reference packages, run by tests/refs/generate_lrfree_package_refs.py in float64
  (tests/refs/lrfree_package_refs.json): mechanic-pytorch 0.0.1 through
  `lrjax.compat.mechanic.mechanize` and parameterfree 0.0.1's ``COCOB`` through
  `lrjax.adaptive.cocob`, on the problem of shared/refs/lrfree_refs.json.
* optax 0.2.8 (float32, the same compiled program): ``contrib.mechanize``,
  ``contrib.cocob``, ``contrib.dowg`` are in tests/test_optimizers_optax.py's SAME and
  DEFAULTS; ``polyak_sgd`` reads the loss and is compared here.
* Closed forms of the first update, and the documented differences from the peers.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import assert_vmap_matches_loop, run

import lrjax
from lrjax import adaptive as A
from lrjax.compat import mechanic
from lrjax.compat import torch as T
from lrjax.transforms.base import find_states

REFS = json.loads((Path(__file__).parent / "refs" / "lrfree_package_refs.json").read_text())
MECHANIC = [c for c in REFS["cases"] if c["family"] == "mechanic"]
COCOB = [c for c in REFS["cases"] if c["family"] == "cocob"]


def _one(state, cls):
    (found,) = find_states(state, cls)
    return found


# ---------------------------------------------------------------------------------------
# The reference packages (float64). Cases with param_split give torch two tensors; the
# norms and inner products are global (Mechanic) or per coordinate (COCOB), so one
# vector here computes the same numbers.
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", MECHANIC, ids=[c["name"] for c in MECHANIC])
def test_mechanic_reproduces_mechanic_pytorch(case, x64):
    base = getattr(T, case["base"])(**case["base_kwargs"])
    opt = mechanic.mechanize(base, **case["kwargs"])

    def record(state):
        s = _one(state, A.MechanicState)
        return jnp.stack([s.s, s.m, s.r, s.v])

    trajectory, rec = run(opt, case["n_steps"], record)
    np.testing.assert_allclose(trajectory, case["trajectory"], rtol=1e-10, atol=1e-12)
    for i, key in enumerate(["s", "max_product", "reward", "sum_squared_products"]):
        np.testing.assert_allclose(rec[:, i], case[key], rtol=1e-10, atol=1e-300, err_msg=key)


@pytest.mark.parametrize("case", COCOB, ids=[c["name"] for c in COCOB])
def test_cocob_reproduces_parameterfree(case, x64):
    opt = A.cocob(**case["kwargs"])

    def record(state):
        s = _one(state, A.COCOBState)
        return jnp.stack([s.L, s.R, s.G, s.theta])

    trajectory, rec = run(opt, case["n_steps"], record)
    np.testing.assert_allclose(trajectory, case["trajectory"], rtol=1e-10, atol=1e-12)
    keys = ["L", "reward", "grad_norm_sum", "sum_negative_gradients"]
    for i, key in enumerate(keys):
        np.testing.assert_allclose(rec[:, i], case[key], rtol=1e-10, atol=1e-300, err_msg=key)


# ---------------------------------------------------------------------------------------
# Mechanic: the two forms, the reference point, the reported rate
# ---------------------------------------------------------------------------------------


def test_mechanic_first_update_in_both_forms(x64):
    """Before any step Δ = 0, so h = 0 and v = r = 0: optax's form has m = ε and
    s = s_init / n each (Σs = s_init); the package's has m = β 1e-6 and
    s = s_init / n · β 1e-6 / ε. Either moves x by Σs times the base's update."""
    x, g = jnp.array([1.0, -2.0]), jnp.array([0.5, 3.0])
    betas = np.array([1 - 0.1**i for i in range(1, 7)])
    ours = A.mechanize(lrjax.sgd(1.0), s_init=1e-6)
    u, state = ours.update(g, ours.init(x), x)
    np.testing.assert_allclose(state.s, np.full(6, 1e-6 / 6), rtol=1e-12)
    # x1 - x is computed as (x0 + Σs u) - x: |x| / |Σs u| ulps of x
    np.testing.assert_allclose(u, -1e-6 * g, rtol=1e-8)
    package = mechanic.mechanize(lrjax.sgd(1.0))
    u, state = package.update(g, package.init(x), x)
    s = 1e-8 / 6 * betas * 1e-6 / 1e-8
    np.testing.assert_allclose(state.m, betas * 1e-6, rtol=1e-12)
    np.testing.assert_allclose(state.s, s, rtol=1e-12)
    np.testing.assert_allclose(u, -s.sum() * g, rtol=1e-8)


def test_bfloat16_mechanic_needs_the_stored_delta():
    """Recomputed from bf16 params, Δ carries their rounding over Σs and the run leaves
    the float32 one (optax's too); the stored Δ (float32 state) follows it."""

    def final(dtype, store_delta):
        opt = A.mechanize(lrjax.adam(0.1), s_init=1e-2, store_delta=store_delta)
        p = {k: v.astype(dtype) for k, v in P0.items()}
        state = opt.init(p)
        for _ in range(20):
            g = jax.grad(_loss)(jax.tree.map(lambda x: x.astype(jnp.float32), p))
            u, state = opt.update(jax.tree.map(lambda x: x.astype(dtype), g), state, p)
            p = optax.apply_updates(p, u)
        return np.asarray(p["a"].astype(jnp.float32))

    exact = final(jnp.float32, False)
    np.testing.assert_allclose(final(jnp.float32, True), exact, atol=1e-2)
    np.testing.assert_allclose(final(jnp.bfloat16, True), exact, atol=5e-2)
    assert np.max(np.abs(final(jnp.bfloat16, False) - exact)) > 0.1


def test_native_mechanize_is_not_the_package(x64):
    """The documented differences (s_init in s, m's start and eps, r's clamp, h's clip,
    the decay's params) change the trajectory: the package needs the compat form."""
    case = next(c for c in MECHANIC if c["name"] == "mechanic_sgd")
    native, _ = run(A.mechanize(T.SGD(**case["base_kwargs"]), s_init=1e-8), case["n_steps"])
    assert np.max(np.abs(native - np.asarray(case["trajectory"]))) > 1e-2


def test_mechanic_reference_point_is_the_first_updated_params(x64):
    opt = A.mechanize(lrjax.sgd(0.1))
    state = opt.init(jnp.zeros(2))
    loaded = jnp.array([1.0, 2.0])  # weights loaded after init
    _, state = opt.update(jnp.ones(2), state, loaded)
    np.testing.assert_array_equal(state.x0, loaded)


def test_mechanic_reports_the_scale_times_the_base_rate():
    p = jnp.array([1.0, -2.0, 0.5])
    for base, rate in [(lrjax.adam(0.1), 0.1), (optax.adam(0.1), 1.0)]:
        opt = A.mechanize(base)
        state = opt.init(p)
        for _ in range(3):
            u, state = opt.update(p - 0.3, state, p)
            p = optax.apply_updates(p, u)
        np.testing.assert_allclose(lrjax.applied_lr(state), rate * jnp.sum(state.s), rtol=1e-6)


def test_compat_mechanic_sweeps_over_the_betas():
    assert_vmap_matches_loop(
        lambda **k: mechanic.mechanize(lrjax.adam(0.1), **k),
        "betas",
        [[0.9, 0.99, 0.999], [0.5, 0.9, 0.99]],
        dict(s_init=1e-3),
    )


# ---------------------------------------------------------------------------------------
# COCOB
# ---------------------------------------------------------------------------------------


def test_cocob_first_step_is_minus_the_rate_times_the_sign_over_alpha(x64):
    """L = |g|, G = |g|, R = 0, θ = -g: x1 - x0 = c (-g) |g| / (|g| max(2|g|, α|g|))
    = -c sign(g) / α for α ≥ 2; the reported step size |x1 - x0| / |θ| is then
    c sqrt(3) / (α |g|)."""
    x, g = jnp.array([1.0, -2.0, 0.5]), jnp.array([3.0, -0.25, 1e-3])
    for c, alpha in [(1.0, 100.0), (0.5, 10.0)]:
        opt = A.cocob(c, alpha)
        u, state = opt.update(g, opt.init(x), x)
        np.testing.assert_allclose(u, -c * np.sign(g) / alpha, rtol=1e-12)
        want = c * np.sqrt(3) / (alpha * np.linalg.norm(g))
        np.testing.assert_allclose(lrjax.applied_lr(state), want, rtol=1e-9)


def test_cocob_learning_rate_works_where_optax_ignores_it():
    """optax 0.2.8 multiplies the gradient by its rate before COCOB, which is invariant
    to the gradient's scale (ADAPTIVE.md §3.5): its rates give one trajectory. lrjax's
    rate scales the bet."""
    p0 = jnp.array([1.0, -2.0, 3.0])

    def final(opt):
        state = opt.init(p0)
        p = p0
        for _ in range(20):
            u, state = opt.update(2 * p, state, p)
            p = optax.apply_updates(p, u)
        return np.asarray(p)

    theirs = [final(optax.contrib.cocob(lr)) for lr in (0.01, 1.0, 100.0)]
    np.testing.assert_allclose(theirs[0], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(theirs[2], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(final(A.cocob(1.0)), theirs[1], rtol=1e-6)
    assert np.max(np.abs(final(A.cocob(0.5)) - theirs[1])) > 1e-2


@pytest.mark.parametrize("field", ["learning_rate", "alpha", "eps", "weight_decay"])
def test_cocob_vmap_equals_loop(field):
    values = {
        "learning_rate": [0.5, 1.0],
        "alpha": [10.0, 100.0],
        "eps": [1e-8, 5.0],
        "weight_decay": [0.0, 0.1],
    }[field]
    base = dict(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0)
    assert_vmap_matches_loop(A.cocob, field, values, base)


# ---------------------------------------------------------------------------------------
# DoWG
# ---------------------------------------------------------------------------------------


def test_dowg_first_step(x64):
    """r̄² = eps (no distance yet), G = eps |g|², η = eps / (sqrt(G) + eps)."""
    x, g = jnp.array([1.0, -2.0]), jnp.array([3.0, 4.0])
    for lr, eps, init in [(1.0, 1e-4, None), (0.5, 1e-6, 1e-2)]:
        opt = A.dowg(lr, init, eps)
        u, state = opt.update(g, opt.init(x), x)
        r2 = eps if init is None else init
        eta = r2 / (np.sqrt(r2 * 25.0) + eps)
        np.testing.assert_allclose(u, -lr * eta * g, rtol=1e-12)
        np.testing.assert_allclose(lrjax.applied_lr(state), lr * eta, rtol=1e-12)


@pytest.mark.parametrize("field", ["learning_rate", "init_estim_sq_dist", "eps", "weight_decay"])
def test_dowg_vmap_equals_loop(field):
    values = {
        "learning_rate": [0.5, 1.0],
        "init_estim_sq_dist": [1e-4, 1e-2],
        "eps": [1e-4, 1e-1],
        "weight_decay": [0.0, 0.1],
    }[field]
    base = dict(learning_rate=1.0, init_estim_sq_dist=1e-4, eps=1e-4, weight_decay=0.0)
    assert_vmap_matches_loop(A.dowg, field, values, base, steps=5)


# ---------------------------------------------------------------------------------------
# Polyak
# ---------------------------------------------------------------------------------------

P0 = {"a": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array([[0.3, -0.7], [1.5, -1.1]])}


def _loss(p):
    def f(x):
        return jnp.sum(0.5 * x**2 + 0.1 * x**4 - 0.3 * x)

    return f(p["a"]) + 1e-4 * f(p["b"])


def _polyak_run(opt, steps=30):
    def step(carry, _):
        p, s = carry
        value, g = jax.value_and_grad(_loss)(p)
        u, s = opt.update(g, s, p, value=value)
        p = optax.apply_updates(p, u)
        return (p, s), p

    return jax.lax.scan(step, (P0, opt.init(P0)), length=steps)[1]


@pytest.mark.parametrize(
    "args",
    [(), (0.3, 1.0, -0.5, 1e-3, "sps+"), (10.0, 1.0, -1.0, 0.0, "sps")],
    ids=["defaults", "sps+", "f_min"],
)
def test_polyak_float32_equals_optax(args):
    got, want = jax.jit(
        lambda: (_polyak_run(A.polyak_sgd(*args)), _polyak_run(optax.polyak_sgd(*args)))
    )()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6, err_msg=k)
    assert np.max(np.abs(want["a"][-1] - P0["a"])) > 1e-2


def test_polyak_scaling_multiplies_the_step_where_optax_divides(x64):
    """γ = s min(gap / |g|², γmax), optax's docstring; optax 0.2.8 computes |g|² after
    multiplying g by s, which gives s min(gap / (s² |g|²), γmax)."""
    x = jnp.array([1.0, -2.0])
    g, value = 2 * x, jnp.sum(x * x)  # f = |x|², gap / |g|² = 5 / 20
    for s, max_lr in [(0.5, 10.0), (0.5, 0.1), (2.0, 10.0)]:
        ours = A.polyak_sgd(max_lr, s)
        u, state = ours.update(g, ours.init(x), x, value=value)
        step = s * min(0.25, max_lr)
        np.testing.assert_allclose(u, -step * g, rtol=1e-12)
        np.testing.assert_allclose(lrjax.applied_lr(state), step, rtol=1e-12)
        theirs = optax.polyak_sgd(max_lr, s)
        v, _ = theirs.update(g, theirs.init(x), x, value=value)
        np.testing.assert_allclose(v, -s * min(0.25 / s**2, max_lr) * g, rtol=1e-12)


def test_polyak_zero_gradient_and_missing_loss():
    opt = A.polyak_sgd()
    x = jnp.ones(2)
    u, state = opt.update(jnp.zeros(2), opt.init(x), x, value=1.0)
    np.testing.assert_array_equal(u, 0.0)
    assert lrjax.applied_lr(state) == 0
    with pytest.raises(ValueError, match="value=loss"):
        opt.update(jnp.ones(2), opt.init(x), x)
    with pytest.raises(ValueError, match="variant"):
        A.polyak_sgd(variant="sps-")


@pytest.mark.parametrize("field", ["max_learning_rate", "scaling", "f_min", "eps"])
def test_polyak_vmap_equals_loop(field):
    import chex

    values = {
        "max_learning_rate": [1.0, 0.05],
        "scaling": [1.0, 0.5],
        "f_min": [0.0, -0.5],
        "eps": [0.0, 1.0],
    }[field]
    base = dict(max_learning_rate=1.0, scaling=1.0, f_min=-0.2, eps=0.0)

    def final(v):
        return _polyak_run(A.polyak_sgd(**{**base, field: v}), steps=5)["a"][-1]

    single = jax.jit(chex.assert_max_traces(final, n=1))
    batched = jax.jit(jax.vmap(final))(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_allclose(batched[i], single(jnp.asarray(v)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], batched[-1])


# ---------------------------------------------------------------------------------------
# bfloat16
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: A.mechanize(lrjax.adam(0.1), s_init=1e-2, store_delta=True),
        lambda: A.cocob(),
        lambda: A.dowg(init_estim_sq_dist=1e-2),
        lambda: A.polyak_sgd(),
    ],
    ids=["mechanize", "cocob", "dowg", "polyak_sgd"],
)
def test_bfloat16_params_follow_the_float32_run(build):
    """bf16 in, bf16 out; the arithmetic runs in float32, so the bf16 run stays within
    bf16's rounding of the float32 one."""

    def go(dtype):
        opt = optax.with_extra_args_support(build())
        p = {k: v.astype(dtype) for k, v in P0.items()}

        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(
                lambda q: _loss(jax.tree.map(lambda x: x.astype(jnp.float32), q))
            )(p)
            u, s = opt.update(g, s, p, value=value)
            assert all(x.dtype == dtype for x in jax.tree.leaves(u))
            return (optax.apply_updates(p, u), s), None

        return jax.lax.scan(step, (p, opt.init(p)), length=20)[0][0]

    low, high = jax.jit(lambda: (go(jnp.bfloat16), go(jnp.float32)))()
    for k in P0:
        assert low[k].dtype == jnp.bfloat16
        np.testing.assert_allclose(low[k].astype(np.float32), high[k], atol=0.05)
