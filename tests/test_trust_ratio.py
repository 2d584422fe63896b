"""Trust ratios (LARS, LAMB): the per-leaf scaling ``‖θ‖ / ‖u‖`` against optax and against
NumPy float64 transcriptions of the update rules (You et al. 2017, Algorithm 1; You et
al. 2020, Algorithm 2, in optax's form: the decay inside the ratio's norm).

The model has a dense layer (a matrix and a zero-initialised bias, whose zero norm takes
the ratio-1 branch on the first update) and a norm scale, and the usual mask leaves the
one-dimensional leaves without decay and without trust ratio.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S
from lrjax.transforms import scale_by_trust_ratio
from lrjax.transforms.groups import map_named, matches

STEPS = 12
P0 = {
    "dense": {"kernel": [[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]], "bias": [0.0, 0.0]},
    "norm": {"weight": [1.0, 1.0]},
}
SCHED = S.warmup(S.cosine_decay(0.5, STEPS), 3, init=0.1)


def params(dtype=jnp.float32):
    return jax.tree.map(lambda x: jnp.asarray(x, dtype), P0, is_leaf=lambda x: isinstance(x, list))


def loss(p):
    x = jnp.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]], p["dense"]["kernel"].dtype)
    h = jnp.tanh(x @ p["dense"]["kernel"] + p["dense"]["bias"]) * p["norm"]["weight"]
    return jnp.sum((h - jnp.array([0.5, -0.25], h.dtype)) ** 2)


def matrices(tree):
    """The usual mask: decay and trust ratio on matrices, not on biases and scales."""
    return jax.tree.map(lambda x: x.ndim > 1, tree)


def trajectory(opt, p0, n=STEPS):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    (_, state), ps = jax.lax.scan(step, (p0, opt.init(p0)), length=n)
    return ps, state


def assert_close(got, want, rtol, atol=0.0):
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------
# scale_by_trust_ratio
# ---------------------------------------------------------------------------------------


def numpy_ratio(u, p, min_norm=0.0, trust_coefficient=1.0, eps=0.0):
    pn = max(np.sqrt(np.sum(np.abs(np.asarray(p, np.float64)) ** 2)), min_norm)
    un = max(np.sqrt(np.sum(np.abs(np.asarray(u, np.float64)) ** 2)), min_norm)
    return 1.0 if pn == 0 or un == 0 else trust_coefficient * pn / (un + eps)


@pytest.mark.parametrize(
    "options",
    [{}, {"trust_coefficient": 0.01, "eps": 1e-3}, {"min_norm": 0.5, "trust_coefficient": 2.0}],
    ids=["defaults", "coefficient,eps", "min_norm"],
)
def test_trust_ratio_equals_optax_and_the_formula(options):
    rng = np.random.default_rng(0)
    p = {
        "w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
        "b": jnp.zeros(3, jnp.float32),  # ‖θ‖ = 0: ratio 1 (or min_norm / ‖u‖)
        "s": jnp.asarray([0.1, -0.2], jnp.float32),
    }
    u = {
        "w": jnp.asarray(1e-3 * rng.normal(size=(4, 3)), jnp.float32),
        "b": jnp.asarray([0.5, -0.1, 0.2], jnp.float32),
        "s": jnp.zeros(2, jnp.float32),  # ‖u‖ = 0: stays 0
    }
    ours = scale_by_trust_ratio(**options)
    got, state = ours.update(u, ours.init(p), p)
    theirs = optax.scale_by_trust_ratio(**options)
    want, _ = theirs.update(u, theirs.init(p), p)
    assert_close(got, want, rtol=1e-6)
    for k in p:
        expected = numpy_ratio(u[k], p[k], **options) * np.asarray(u[k], np.float64)
        np.testing.assert_allclose(got[k], expected, rtol=1e-6, err_msg=k)
    assert state == optax.EmptyState()


def test_zero_norms_give_ratio_one_not_the_coefficient():
    opt = scale_by_trust_ratio(trust_coefficient=1e-3)
    p = {"zero": jnp.zeros(2), "w": jnp.ones(2)}
    u = {"zero": jnp.array([0.3, -0.4]), "w": jnp.zeros(2)}
    got, _ = opt.update(u, opt.init(p), p)
    np.testing.assert_array_equal(got["zero"], u["zero"])
    np.testing.assert_array_equal(got["w"], 0.0)


def test_norms_of_1e30_entries_keep_the_ratio_where_optax_gives_zero():
    """‖u‖ of entries of 1e30 is 2e30 in float32 although Σ u² overflows: the step is the
    ratio ‖θ‖ / ‖u‖ times u, of the size of θ. optax's norm is inf there, so its step is 0."""
    p = {"w": jnp.array([3.0, 4.0], jnp.float32)}
    u = {"w": jnp.array([1e30, -1e30], jnp.float32)}
    got, _ = scale_by_trust_ratio().update(u, optax.EmptyState(), p)
    np.testing.assert_allclose(got["w"], 5.0 / np.sqrt(2) * np.array([1.0, -1.0]), rtol=1e-6)
    theirs, _ = optax.scale_by_trust_ratio().update(u, optax.EmptyState(), p)
    np.testing.assert_array_equal(theirs["w"], 0.0)


def test_bfloat16_updates_stay_bfloat16_with_the_ratio_in_float32():
    rng = np.random.default_rng(1)
    p32 = {"w": jnp.asarray(rng.normal(size=64), jnp.float32)}
    u32 = {"w": jnp.asarray(1e-3 * rng.normal(size=64), jnp.float32)}
    p16, u16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16), (p32, u32))
    got, _ = scale_by_trust_ratio().update(u16, optax.EmptyState(), p16)
    assert got["w"].dtype == jnp.bfloat16
    # the ratio of the bf16 values, computed in float64, applied and rounded once
    ratio = numpy_ratio(np.asarray(u16["w"], np.float64), np.asarray(p16["w"], np.float64))
    want = (ratio * np.asarray(u16["w"], np.float64)).astype(jnp.bfloat16)
    np.testing.assert_allclose(
        np.asarray(got["w"], np.float64), np.asarray(want, np.float64), rtol=2**-8
    )


def test_the_trust_ratio_needs_the_params():
    with pytest.raises(ValueError, match="params"):
        scale_by_trust_ratio().update({"w": jnp.ones(2)}, optax.EmptyState())


# ---------------------------------------------------------------------------------------
# LARS
# ---------------------------------------------------------------------------------------


def numpy_lars(lr, weight_decay, decay_mask, coefficient, eps, ratio_mask, momentum, nesterov):
    """You et al. 2017, Algorithm 1, as optax writes it (ratio of the decayed gradient)."""
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), P0, is_leaf=lambda x: isinstance(x, list))
    flat, tree = jax.tree.flatten(p)
    decayed, trusted = jax.tree.leaves(decay_mask(p)), jax.tree.leaves(ratio_mask(p))
    buffers = [np.zeros_like(x) for x in flat]
    out = []
    grad64 = jax.jit(jax.grad(loss))
    for t in range(STEPS):
        grads = jax.tree.leaves(grad64(jax.tree.unflatten(tree, flat)))
        rate = float(lr(t))
        for i, (x, g) in enumerate(zip(flat, grads, strict=True)):
            g = np.asarray(g, np.float64) + (weight_decay * x if decayed[i] else 0.0)
            if trusted[i]:
                g = numpy_ratio(g, x, 0.0, coefficient, eps) * g
            buffers[i] = momentum * buffers[i] + rate * g
            step = rate * g + momentum * buffers[i] if nesterov else buffers[i]
            flat[i] = x - step
        out.append([x.copy() for x in flat])
    return jax.tree.unflatten(tree, [np.stack(xs) for xs in zip(*out, strict=True)])


@pytest.mark.parametrize("nesterov", [False, True])
def test_lars_with_the_usual_mask_and_a_schedule_follows_the_paper_and_optax(nesterov, x64):
    args = (SCHED, 1e-2, matrices, 0.02, 1e-4, matrices, 0.8, nesterov)
    got, state = jax.jit(lambda: trajectory(lrjax.lars(*args), params(jnp.float64)))()
    want = numpy_lars(*args)
    assert_close(got, want, rtol=1e-10, atol=1e-12)
    theirs, _ = jax.jit(lambda: trajectory(optax.lars(*args), params(jnp.float64)))()
    assert_close(got, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lrjax.applied_lr(state), SCHED(STEPS - 1), rtol=1e-12)


def test_lars_float32_with_a_glob_mask_equals_optax():
    """The mask built from parameter names with `groups.matches`: no decay and no trust
    ratio under ``norm/`` and for biases."""

    def named(tree):
        return map_named(lambda name, _: not matches("**/bias", name) and "norm" not in name, tree)

    ours = lrjax.lars(0.3, 1e-2, named, 0.05, 0.0, named, 0.9)
    theirs = optax.lars(0.3, 1e-2, named, 0.05, 0.0, named, 0.9)
    got, _ = jax.jit(lambda: trajectory(ours, params()))()
    want, _ = jax.jit(lambda: trajectory(theirs, params()))()
    assert got["dense"]["kernel"].dtype == jnp.float32
    assert_close(got, want, rtol=1e-6, atol=1e-7)
    assert float(jnp.max(jnp.abs(want["dense"]["kernel"][-1] - params()["dense"]["kernel"]))) > 1e-2


def test_lars_masks_accept_none_as_all_leaves():
    a, _ = jax.jit(lambda: trajectory(lrjax.lars(0.3, 1e-2, None, 0.05), params()))()
    b, _ = jax.jit(lambda: trajectory(lrjax.lars(0.3, 1e-2, True, 0.05), params()))()
    assert_close(a, b, rtol=0)


# ---------------------------------------------------------------------------------------
# LAMB
# ---------------------------------------------------------------------------------------


def numpy_lamb(lr, b1, b2, eps, weight_decay, decay_mask, ratio_mask):
    """You et al. 2020, Algorithm 2 (φ the identity), with Adam's bias correction."""
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), P0, is_leaf=lambda x: isinstance(x, list))
    flat, tree = jax.tree.flatten(p)
    decayed, trusted = jax.tree.leaves(decay_mask(p)), jax.tree.leaves(ratio_mask(p))
    m = [np.zeros_like(x) for x in flat]
    v = [np.zeros_like(x) for x in flat]
    out = []
    grad64 = jax.jit(jax.grad(loss))
    for t in range(1, STEPS + 1):
        grads = jax.tree.leaves(grad64(jax.tree.unflatten(tree, flat)))
        rate = float(lr(t - 1))
        for i, (x, g) in enumerate(zip(flat, grads, strict=True)):
            g = np.asarray(g, np.float64)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            r = (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
            r = r + (weight_decay * x if decayed[i] else 0.0)
            ratio = numpy_ratio(r, x) if trusted[i] else 1.0
            flat[i] = x - rate * ratio * r
        out.append([x.copy() for x in flat])
    return jax.tree.unflatten(tree, [np.stack(xs) for xs in zip(*out, strict=True)])


def test_lamb_with_the_usual_masks_and_a_schedule_follows_the_paper(x64):
    ours = lrjax.lamb(SCHED, 0.9, 0.99, 1e-6, 0.0, 0.1, matrices, trust_ratio_mask=matrices)
    got, state = jax.jit(lambda: trajectory(ours, params(jnp.float64)))()
    want = numpy_lamb(SCHED, 0.9, 0.99, 1e-6, 0.1, matrices, matrices)
    assert_close(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lrjax.applied_lr(state), SCHED(STEPS - 1), rtol=1e-12)


def test_lamb_trust_ratio_mask_equals_the_optax_chain_it_stands_for():
    """optax.lamb has no trust-ratio mask; with one, lrjax.lamb is optax's own pieces
    with ``optax.masked`` around the ratio. b1 and b2 are exact in binary, so ``1 - b``
    rounds alike in both libraries (test_optimizers_optax.py); the rate peaks at 0.1
    (at 0.5 Adam's steps of the rate in every coordinate amplify 1-ulp differences to
    1e-5 within 12 steps, in both directions)."""
    b1, b2 = 0.875, 1 - 2.0**-10
    sched = S.warmup(S.cosine_decay(0.1, STEPS), 3, init=0.02)
    ours = lrjax.lamb(sched, b1, b2, weight_decay=0.1, mask=matrices, trust_ratio_mask=matrices)
    theirs = optax.chain(
        optax.scale_by_adam(b1, b2, 1e-6),
        optax.add_decayed_weights(0.1, matrices),
        optax.masked(optax.scale_by_trust_ratio(), matrices),
        optax.scale_by_learning_rate(sched),
    )
    got, _ = jax.jit(lambda: trajectory(ours, params()))()
    want, _ = jax.jit(lambda: trajectory(theirs, params()))()
    assert_close(got, want, rtol=1e-6, atol=1e-6)
    # and the mask matters: without it the bias and norm steps are scaled by their ratio
    plain = lrjax.lamb(sched, b1, b2, weight_decay=0.1, mask=matrices)
    unmasked, _ = jax.jit(lambda: trajectory(plain, params()))()
    assert float(jnp.max(jnp.abs(unmasked["norm"]["weight"] - got["norm"]["weight"]))) > 1e-3


def test_lamb_bfloat16_params_stay_bfloat16_and_track_float32():
    p16 = params(jnp.bfloat16)
    got, state = jax.jit(lambda: trajectory(lrjax.lamb(0.02), p16))()
    ref, _ = jax.jit(lambda: trajectory(lrjax.lamb(0.02), params()))()
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(got))
    assert_close(jax.tree.map(lambda x: x.astype(jnp.float32), got), ref, rtol=0, atol=0.03)


# ---------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: lrjax.lars(0.1, trust_coefficient=0.0), "trust_coefficient"),
        (lambda: lrjax.lars(0.1, eps=-1e-3), "eps"),
        (lambda: lrjax.lars(0.1, momentum=1.0), "momentum"),
        (lambda: lrjax.lars(0.1, weight_decay=-1.0), "weight_decay"),
        (lambda: lrjax.lamb(0.1, b2=1.0), "b2"),
        (lambda: scale_by_trust_ratio(min_norm=-1.0), "min_norm"),
    ],
)
def test_invalid_values_are_refused_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_a_traced_trust_coefficient_does_not_recompile():
    import chex

    @jax.jit
    @chex.assert_max_traces(n=1)
    def run(c):
        return trajectory(lrjax.lars(0.3, trust_coefficient=c), params(), 3)[0]

    a, b = run(jnp.float32(0.01)), run(jnp.float32(0.1))
    assert float(jnp.max(jnp.abs(a["dense"]["kernel"] - b["dense"]["kernel"]))) > 1e-3


def test_meta_gradient_through_a_zero_norm_is_finite_and_equals_optax():
    """Differentiating the loss after one update with respect to the params (a
    meta-gradient) where a leaf is zero, the bias at initialisation: sqrt's gradient at 0
    is inf, the norm's is 0 here as in optax's ``safe_norm``."""

    def meta(opt):
        def after_one_step(p):
            updates, _ = opt.update(jax.grad(loss)(p), opt.init(p), p)
            return loss(optax.apply_updates(p, updates))

        return jax.grad(after_one_step)(params())

    got = meta(lrjax.lars(0.1, 1e-2, trust_coefficient=0.01))
    want = meta(optax.lars(0.1, 1e-2, trust_coefficient=0.01))
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(got))
    assert_close(got, want, rtol=1e-5, atol=1e-7)
