"""SM3 against ``optax.sm3`` / ``optax.scale_by_sm3`` (float32, rtol 1e-6) on vectors,
matrices and rank-3 tensors, and against closed forms: a vector is its own cover (SM3 is
AdaGrad there), and a tensor's accumulators are one vector per dimension."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.transforms import scale_by_sm3

STEPS = 30
RNG = np.random.default_rng(0)
SHAPES = {"v": (4,), "m": (3, 5), "t": (2, 3, 4)}
P0 = {k: RNG.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
TARGET = {k: RNG.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
SCALE = {k: RNG.uniform(0.5, 3.0, size=s).astype(np.float32) for k, s in SHAPES.items()}


def loss(p):
    return sum(jnp.sum(SCALE[k] * (p[k] - TARGET[k]) ** 2 + 0.1 * p[k] ** 4) for k in p)


def trajectory(opt, p0, n=STEPS):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    return jax.lax.scan(step, (p0, opt.init(p0)), length=n)[1]


def run_pair(ours, theirs, keys, dtype=jnp.float32):
    p0 = {k: jnp.asarray(P0[k], dtype) for k in keys}
    return jax.jit(lambda: (trajectory(ours, p0), trajectory(theirs, p0)))()


# momentum 1 - 2⁻³ and 0.5 are exact in binary, so both libraries round 1 - β alike
CASES = {
    "vector": (lambda: lrjax.sm3(0.05, 0.875), lambda: optax.sm3(0.05, 0.875), ("v",)),
    "matrix": (lambda: lrjax.sm3(0.05, 0.875), lambda: optax.sm3(0.05, 0.875), ("m",)),
    "rank3": (lambda: lrjax.sm3(0.05, 0.5), lambda: optax.sm3(0.05, 0.5), ("t",)),
    "tree_no_momentum": (lambda: lrjax.sm3(0.1, 0.0), lambda: optax.sm3(0.1, 0.0), SHAPES),
    "tree_default_momentum": (lambda: lrjax.sm3(0.05), lambda: optax.sm3(0.05), SHAPES),
    "scale_by_sm3_b2_eps": (
        lambda: optax.chain(scale_by_sm3(0.5, 0.75, 1e-3), optax.scale(-0.05)),
        lambda: optax.chain(optax.scale_by_sm3(0.5, 0.75, 1e-3), optax.scale(-0.05)),
        SHAPES,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_float32_trajectory_equals_optax(name):
    ours, theirs, keys = CASES[name]
    got, want = run_pair(ours(), theirs(), tuple(keys))
    for k in want:
        assert got[k].dtype == jnp.float32
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6, err_msg=k)
    assert max(float(jnp.max(jnp.abs(want[k][-1] - P0[k]))) for k in want) > 1e-2


def test_float64_defaults_equal_optax(x64):
    got, want = run_pair(lrjax.sm3(0.05), optax.sm3(0.05), tuple(SHAPES), jnp.float64)
    for k in want:
        assert got[k].dtype == jnp.float64
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_a_vector_is_its_own_cover_adagrad():
    """On a vector SM3 without momentum is AdaGrad: g / sqrt(Σ g² + eps)."""
    opt = lrjax.sm3(1.0, 0.0)
    gs = RNG.normal(size=(5, 4))
    state = opt.init(jnp.zeros(4))
    for k in range(5):
        out, state = opt.update(jnp.asarray(gs[k], jnp.float32), state)
        want = -gs[k] / np.sqrt((gs[: k + 1] ** 2).sum(0) + 1e-8)
        np.testing.assert_allclose(out, want, rtol=1e-5)


def test_the_cover_of_a_tensor_is_one_accumulator_per_dimension():
    """Memory n1 + n2 + n3; after one update with b2 = 1 each accumulator holds the max of
    g² over the other dimensions, and ν = min over the cover + g² bounds Σ g²."""
    g = jnp.asarray(RNG.normal(size=(2, 3, 4)), jnp.float32)
    opt = scale_by_sm3(0.0)
    state = opt.init(g)
    assert [a.shape for a in state.sum_of_squares] == [(2,), (3,), (4,)]
    out, state = opt.update(g, state)
    sq = np.asarray(g) ** 2
    for axis, acc in enumerate(state.sum_of_squares):
        others = tuple(a for a in range(3) if a != axis)
        np.testing.assert_allclose(acc, sq.max(axis=others), rtol=1e-6)
    np.testing.assert_allclose(out, np.asarray(g) / np.sqrt(sq + 1e-8), rtol=1e-5)
    g2 = jnp.asarray(RNG.normal(size=(2, 3, 4)), jnp.float32)
    out2, _ = opt.update(g2, state)
    least = np.minimum.reduce(
        np.broadcast_arrays(
            *(
                np.asarray(a).reshape([-1 if i == r else 1 for i in range(3)])
                for r, a in enumerate(state.sum_of_squares)
            )
        )
    )
    nu = least + np.asarray(g2) ** 2
    assert (nu >= sq + np.asarray(g2) ** 2 - 1e-6).all()  # an upper bound of Σ g²
    np.testing.assert_allclose(out2, np.asarray(g2) / np.sqrt(nu + 1e-8), rtol=1e-5)


def test_scalars_and_schedules_work_where_optax_refuses():
    """optax's SM3 fails on a scalar leaf and takes no schedule; lrjax takes both (a
    scalar is its own cover, as a vector)."""
    sched = optax.linear_schedule(0.1, 0.01, 10)
    opt = lrjax.sm3(sched)
    p = {"s": jnp.asarray(2.0), "v": jnp.ones(3)}
    state = opt.init(p)
    for k in range(3):
        out, state = opt.update(p, state, p)
        np.testing.assert_allclose(lrjax.applied_lr(state), sched(k), rtol=1e-6)
    assert out["s"].shape == () and np.isfinite(out["s"])
    with pytest.raises(Exception):  # noqa: B017  (optax: IndexError on the empty cover)
        optax.sm3(0.1).update(p, optax.sm3(0.1).init(p))


def test_bfloat16_params_stay_bfloat16():
    p = {k: jnp.asarray(P0[k], jnp.bfloat16) for k in SHAPES}
    got = jax.jit(lambda: trajectory(lrjax.sm3(0.05), p, 10))()
    want = jax.jit(
        lambda: trajectory(lrjax.sm3(0.05), {k: jnp.asarray(P0[k]) for k in SHAPES}, 10)
    )()
    for k in SHAPES:
        assert got[k].dtype == jnp.bfloat16
        np.testing.assert_allclose(got[k].astype(np.float32), want[k], atol=0.05)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: lrjax.sm3(-0.1), "learning_rate"),
        (lambda: lrjax.sm3(0.1, 1.0), "momentum"),
        (lambda: scale_by_sm3(b2=1.5), "b2"),
        (lambda: scale_by_sm3(eps=-1.0), "eps"),
    ],
)
def test_invalid_values_are_refused_naming_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()
