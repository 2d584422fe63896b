"""Adafactor in its two parameterisations.

* `lrjax.adafactor` (optax's form) against ``optax.adafactor`` in float32 at rtol 1e-6:
  factored matrices and rank-3 tensors, unfactored vectors, a tree of both, with and
  without momentum, a scheduled rate and ``learning_rate=None``.
* `lrjax.compat.torch.Adafactor` against ``torch.optim.Adafactor``'s float64 trajectories
  and states on a multi-tensor problem (tests/refs/factored_refs.json, written by
  tests/refs/generate_factored_refs.py) at rtol 1e-10; the shared 7-vector cases in the
  same file are replayed by tests/test_peer_optimizers.py.
* A closed form: a rank-one gradient is reproduced exactly by its factored second moment,
  so the first factored update is sign(g).
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.compat import torch as T
from lrjax.transforms import factored as F

STEPS = 30
RNG = np.random.default_rng(0)
SHAPES = {"m": (3, 5), "t": (2, 3, 4), "v": (4,)}
P0 = {k: RNG.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}
TARGET = {k: RNG.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}


def loss(p):
    return sum(jnp.sum((p[k] - TARGET[k]) ** 2 + 0.1 * p[k] ** 4) for k in p)


def trajectory(opt, p0, n=STEPS):
    def step(carry, _):
        p, state = carry
        updates, state = opt.update(jax.grad(loss)(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    return jax.lax.scan(step, (p0, opt.init(p0)), length=n)[1]


def run_pair(ours, theirs, keys=tuple(SHAPES), dtype=jnp.float32, n=STEPS):
    p0 = {k: jnp.asarray(P0[k], dtype) for k in keys}
    return jax.jit(lambda: (trajectory(ours, p0, n), trajectory(theirs, p0, n)))()


SCHED = optax.cosine_decay_schedule(0.1, STEPS, 0.1)
MASK = {"m": True, "t": False, "v": True}

# name -> (keyword arguments of both, leaves of the problem, steps)
OPTAX_CASES = {
    "matrix_factored": (dict(learning_rate=0.05, min_dim_size_to_factor=2), ("m",), STEPS),
    "rank3_factored": (dict(learning_rate=0.05, min_dim_size_to_factor=3), ("t",), STEPS),
    "vector": (dict(learning_rate=0.05), ("v",), STEPS),
    "tree_defaults_but_rate": (dict(learning_rate=0.05, min_dim_size_to_factor=2), SHAPES, STEPS),
    "tree_unfactored": (dict(learning_rate=0.05), SHAPES, STEPS),
    "tree_momentum": (
        dict(learning_rate=0.05, min_dim_size_to_factor=2, momentum=0.875),
        SHAPES,
        STEPS,
    ),
    "tree_momentum_bf16": (
        dict(
            learning_rate=0.05, min_dim_size_to_factor=2, momentum=0.5, dtype_momentum=jnp.bfloat16
        ),
        SHAPES,
        STEPS,
    ),
    "tree_schedule_decay_mask": (
        dict(
            learning_rate=SCHED,
            min_dim_size_to_factor=2,
            weight_decay_rate=1e-2,
            weight_decay_mask=MASK,
        ),
        SHAPES,
        STEPS,
    ),
    "tree_no_clip_no_scale": (
        dict(
            learning_rate=0.05,
            min_dim_size_to_factor=2,
            clipping_threshold=None,
            multiply_by_parameter_scale=False,
        ),
        SHAPES,
        STEPS,
    ),
    "tree_options": (
        dict(
            learning_rate=0.05,
            min_dim_size_to_factor=2,
            decay_rate=0.5,
            clipping_threshold=0.5,
            eps=1e-3,
        ),
        SHAPES,
        STEPS,
    ),
    "not_factored": (
        dict(learning_rate=0.05, min_dim_size_to_factor=2, factored=False),
        SHAPES,
        STEPS,
    ),
    # learning_rate=None is a relative step of 1: the iterates oscillate and their
    # float32 roundings (one ulp) double each step, so five steps are compared.
    "tree_relative_step": (dict(min_dim_size_to_factor=2), SHAPES, 5),
    "tree_relative_step_unfactored": (dict(), SHAPES, 5),
}


@pytest.mark.parametrize("name", OPTAX_CASES)
def test_float32_trajectory_equals_optax(name):
    kwargs, keys, n = OPTAX_CASES[name]
    got, want = run_pair(lrjax.adafactor(**kwargs), optax.adafactor(**kwargs), tuple(keys), n=n)
    for k in want:
        assert got[k].dtype == jnp.float32
        np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-6, err_msg=k)
    moved = max(float(jnp.max(jnp.abs(want[k][-1] - P0[k]))) for k in want)
    assert moved > 1e-2


def test_which_leaves_are_factored():
    # optax's rule: the two largest dimensions, when the second largest is big enough
    assert F.factored_dims((3, 5), True, 2) == (0, 1)
    assert F.factored_dims((7, 2, 5), True, 3) == (2, 0)
    assert F.factored_dims((7, 2, 5), True, 6) is None
    assert F.factored_dims((7, 5), False, 2) is None
    assert F.factored_dims((7,), True, 1) is None
    state = lrjax.adafactor(min_dim_size_to_factor=3).init(
        {"m": jnp.zeros((7, 2, 5)), "v": jnp.zeros(4)}
    )
    moments = state[0]
    assert moments.v_row["m"].shape == (2, 5) and moments.v_col["m"].shape == (7, 2)
    assert moments.v["m"] is None and moments.v["v"].shape == (4,)
    assert moments.v_row["v"] is None and moments.v_col["v"] is None


def test_float64_equals_optax_up_to_its_float32_decay_rate(x64):
    """optax computes β_t = 1 - t^-0.8 in float32 whatever the params' dtype; lrjax in
    float64 for float64 params. With optax's chain given a float64 β_t the trajectories
    agree to rounding; ``optax.adafactor`` itself is ~1e-9 away."""
    from optax._src import factorized, transform

    def optax_chain(decay_rate_fn):
        return optax.chain(
            factorized.scale_by_factored_rms(True, 0.8, 0, 2, 1e-30, decay_rate_fn),
            optax.clip_by_block_rms(1.0),
            transform.scale_by_learning_rate(0.05, flip_sign=False),
            transform.scale_by_param_block_rms(),
            optax.ema(0.9, debias=False, accumulator_dtype=jnp.float64),
            optax.scale(-1),
        )

    ours = lrjax.adafactor(0.05, min_dim_size_to_factor=2, momentum=0.9, dtype_momentum=jnp.float64)
    in_float64 = optax_chain(lambda i, e: 1.0 - jnp.asarray(i + 1, jnp.float64) ** -e)
    got, want = run_pair(ours, in_float64, dtype=jnp.float64)
    for k in want:
        assert got[k].dtype == jnp.float64
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-14, err_msg=k)
    _, theirs = run_pair(ours, optax_chain(factorized._decay_rate_pow), dtype=jnp.float64)
    gap = max(float(jnp.max(jnp.abs(got[k] - theirs[k]))) for k in want)
    assert 1e-12 < gap < 1e-7


def test_decay_offset_holds_the_decay_at_its_first_value():
    """Before `step_offset` updates t is held at 1 (β = 0: the moment is the last |g|²),
    where optax's β_t = 1 - t^-0.8 with t <= 0 makes its state NaN."""
    opt = lrjax.transforms.scale_by_factored_rms(step_offset=2, epsilon=0.0)
    state = opt.init(jnp.zeros(2))
    for k, g in enumerate([1.0, 2.0, 3.0, 4.0]):
        _, state = opt.update(jnp.full(2, g), state)
        beta = 0.0 if k <= 2 else 1 - 2.0**-0.8
        previous = 9.0 if k == 3 else 0.0
        np.testing.assert_allclose(state.v, beta * previous + (1 - beta) * g * g, rtol=1e-6)
    theirs = optax.scale_by_factored_rms(step_offset=2)
    _, their_state = theirs.update(jnp.ones(2), theirs.init(jnp.zeros(2)), jnp.zeros(2))
    assert np.isnan(their_state.v).all()


def test_a_rank_one_gradient_is_factored_exactly():
    """For g = a bᵀ the row and column means give R C / mean(R) = g², so with eps = 0 the
    first update (β_1 = 0) is g / |g| = sign(g), also for a rank-3 leaf (a ⊗ b ⊗ c)."""
    a, b, c = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -4.0, 2.0]), np.array([2.0, -1.0])
    for g in (np.outer(a, b), np.einsum("i,j,k->ijk", c, a, b)):
        opt = lrjax.transforms.scale_by_factored_rms(min_dim_size_to_factor=2, epsilon=0.0)
        g = jnp.asarray(g, jnp.float32)
        out, _ = opt.update(g, opt.init(g))
        np.testing.assert_allclose(out, np.sign(g), rtol=1e-6)


def test_applied_lr_reports_the_relative_rate():
    params = {k: jnp.asarray(v) for k, v in P0.items()}
    for rate, want in [(None, [1.0, 1.0]), (0.05, [0.05, 0.05]), (SCHED, [SCHED(0), SCHED(1)])]:
        opt = lrjax.adafactor(rate)
        state = opt.init(params)
        for expected in want:
            _, state = opt.update(params, state, params)
            np.testing.assert_allclose(lrjax.applied_lr(state), expected, rtol=1e-6)


def test_bfloat16_params_stay_bfloat16_and_follow_the_float32_run():
    kwargs = dict(learning_rate=0.05, min_dim_size_to_factor=2, momentum=0.9)
    p32 = {k: jnp.asarray(P0[k]) for k in SHAPES}
    p16 = jax.tree.map(lambda x: x.astype(jnp.bfloat16), p32)
    got = jax.jit(lambda: trajectory(lrjax.adafactor(**kwargs), p16, 10))()
    want = jax.jit(lambda: trajectory(lrjax.adafactor(**kwargs), p32, 10))()
    for k in want:
        assert got[k].dtype == jnp.bfloat16
        np.testing.assert_allclose(got[k].astype(np.float32), want[k], atol=0.05)


def test_a_complex_factored_matrix_rotates_with_a_global_phase(x64):
    """|g|² moments and RMS |θ| are phase-invariant (the complex registry's leaves are
    vectors and scalars; this one is factored)."""
    rng = np.random.default_rng(1)
    start = rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    target = rng.normal(size=(3, 4)) + 1j * rng.normal(size=(3, 4))
    opt = lrjax.adafactor(0.05, min_dim_size_to_factor=2, momentum=0.9, dtype_momentum=jnp.float64)

    def run(z0, t):
        def step(carry, _):
            z, state = carry
            updates, state = opt.update(2 * (z - t), state, z)
            return (optax.apply_updates(z, updates), state), z

        return jax.lax.scan(step, (z0, opt.init(z0)), length=20)[1]

    w = np.exp(0.7j)
    base = jax.jit(run)(jnp.asarray(start), jnp.asarray(target))
    rotated = jax.jit(run)(jnp.asarray(w * start), jnp.asarray(w * target))
    assert np.abs(base[-1] - base[0]).max() > 1e-2
    np.testing.assert_allclose(rotated, w * base, rtol=1e-9, atol=1e-12)
    real = jax.jit(run)(jnp.asarray(start.real), jnp.asarray(target.real))
    as_complex = jax.jit(run)(jnp.asarray(start.real + 0j), jnp.asarray(target.real + 0j))
    np.testing.assert_allclose(as_complex.real, real, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(as_complex.imag, 0.0)


def test_overflowing_moments_give_zero_steps_not_nan():
    g = jnp.full((3, 4), 1e30, jnp.float32).at[0, 0].set(-1e30)
    for opt in (lrjax.adafactor(0.05, min_dim_size_to_factor=2), T.Adafactor()):
        p = jnp.ones((3, 4))
        state = opt.init(p)
        for _ in range(3):
            updates, state = opt.update(g, state, p)
        assert np.isfinite(updates).all()


# ---------------------------------------------------------------------------------------
# torch.optim.Adafactor
# ---------------------------------------------------------------------------------------

REFS = json.loads((Path(__file__).parent / "refs" / "factored_refs.json").read_text())
PROBLEM = REFS["problem"]
TORCH_CASES = [c for c in REFS["cases"] if c["kind"] == "factored"]


def _torch_optimizer(case):
    hyperparams = dict(case["hyperparams"])
    if "schedule" in case:
        from peer_cases import build_schedule

        params = dict(case["schedule"])
        scheduler = params.pop("scheduler").rsplit(".", 1)[-1]
        hyperparams["lr"] = build_schedule(
            "torch", scheduler, case["defaults_filled"]["lr"], params
        )
    return T.Adafactor(**hyperparams)


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c["name"] for c in TORCH_CASES])
def test_float64_trajectory_and_state_match_torch(case, x64):
    opt = _torch_optimizer(case)
    w = {k: jnp.asarray(v["w"]) for k, v in PROBLEM.items()}
    target = {k: jnp.asarray(v["target"]) for k, v in PROBLEM.items()}
    p0 = {k: jnp.asarray(v["p0"], jnp.float64) for k, v in PROBLEM.items()}

    def step(carry, _):
        p, state = carry
        g = {k: w[k] * (p[k] - target[k]) + 0.1 * p[k] ** 3 for k in p}
        updates, state = opt.update(g, state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), (p, lrjax.applied_lr(state))

    run = jax.jit(lambda: jax.lax.scan(step, (p0, opt.init(p0)), length=case["n_steps"]))
    (_, state), (ps, lrs) = run()
    for k in p0:
        want = np.asarray(case["trajectory"][k])
        got = np.concatenate([np.asarray(p0[k])[None], np.asarray(ps[k])])
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=k)
    # applied_lr is the relative step ρ_t = min(lr_t, 1/sqrt(t))
    t = np.arange(1, case["n_steps"] + 1)
    np.testing.assert_allclose(lrs, np.minimum(case["lrs"], t**-0.5), rtol=1e-12)
    fields = {"row_var": "v_row", "col_var": "v_col", "variance": "v"}
    for k, torch_state in case["final_state"].items():
        inner = state.per_param[k].inner
        moments = _torch_state(inner)
        assert int(moments.count) == torch_state["step"]
        for key, field in fields.items():
            if key in torch_state:
                np.testing.assert_allclose(
                    getattr(moments, field), torch_state[key], rtol=1e-9, atol=1e-14, err_msg=key
                )
            else:
                assert getattr(moments, field) is None


def _is_torch_state(x):
    return isinstance(x, F.TorchAdafactorState)


def _torch_state(inner):
    (found,) = [s for s in jax.tree.leaves(inner, is_leaf=_is_torch_state) if _is_torch_state(s)]
    return found


def test_torch_defaults_and_factoring_over_the_last_two_dims():
    opt = T.Adafactor()
    state = opt.init({"t": jnp.zeros((2, 3, 4)), "v": jnp.zeros(5), "s": jnp.zeros(())})
    inner = {k: _torch_state(s.inner) for k, s in state.per_param.items()}
    assert inner["t"].v_row.shape == (2, 3, 1) and inner["t"].v_col.shape == (2, 1, 4)
    assert inner["v"].v.shape == (5,) and inner["s"].v.shape == ()
    np.testing.assert_allclose(lrjax.applied_lr(state), 1e-2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lr": -1.0}, ValueError, r"Learning rate should be >= 0 but is: -1.0 \(lr must"),
        ({"beta2_decay": 0.5}, ValueError, r"beta2_decay should be <= 0 but is: 0.5"),
        ({"d": 0.5}, ValueError, r"Clipping threshold d should be >= 1 but is: 0.5"),
        ({"weight_decay": -0.1}, ValueError, r"weight_decay should be >= 0 but is"),
        ({"eps": (-1.0, 1e-3)}, ValueError, r"epsilon1 should be >= 0 .*eps\[0\]"),
        ({"eps": (None, -1e-3)}, ValueError, r"epsilon2 should be >= 0 .*eps\[1\]"),
        ({"eps": (None, float("nan"))}, ValueError, r"eps\[1\]"),
        ({"eps": (True, 1e-3)}, TypeError, r"eps\[0\]"),
        ({"eps": ("a", 1e-3)}, TypeError, r"eps\[0\]"),
        ({"eps": 1e-3}, ValueError, r"eps must be a pair"),
        ({"lr": np.ones(2)}, ValueError, r"Tensor lr must be 1-element"),
        ({"beta2_decay": True}, TypeError, r"beta2_decay"),
    ],
)
def test_torch_constructor_refuses_what_torch_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        T.Adafactor(**kwargs)


def test_torch_constructor_refuses_complex_params_as_torch():
    with pytest.raises(ValueError, match="does not support complex"):
        T.Adafactor().init({"z": jnp.ones(3, jnp.complex64)})


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"decay_rate": -0.5}, "decay_rate"),
        ({"min_dim_size_to_factor": 2.5}, "min_dim_size_to_factor"),
        ({"decay_offset": -1}, "decay_offset"),
        ({"clipping_threshold": 0.0}, "clipping_threshold"),
        ({"momentum": 1.0}, "momentum"),
        ({"weight_decay_rate": -1e-3}, "weight_decay_rate"),
        ({"eps": float("nan")}, "eps"),
        ({"learning_rate": -0.1}, "learning_rate"),
    ],
)
def test_invalid_values_are_refused_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        lrjax.adafactor(**kwargs)


def test_torch_schedule_is_the_groups_when_a_gradient_is_none(x64):
    """torch skips a parameter whose grad is None (its step stays) while the scheduler
    moves the group's lr on: "a"'s first update, at the group's second, uses lr(1) with
    its own t = 1."""
    sched = lrjax.schedules.linear(0.1, 0.01, 10)
    opt = T.Adafactor(lr=sched, weight_decay=0.1)
    p = {"a": jnp.asarray([1.0, -2.0, 0.5]), "b": jnp.asarray([[0.3, -0.7], [1.5, -1.1]])}
    ga = jnp.asarray([0.2, 0.4, -0.1])
    state = opt.init(p)
    updates, state = opt.update({"a": None, "b": p["b"]}, state, p)
    assert updates["a"] is None
    updates, state = opt.update({"a": ga, "b": p["b"]}, state, p)
    alone = T.Adafactor(lr=lambda k: sched(k + 1), weight_decay=0.1)
    want, _ = alone.update(ga, alone.init(p["a"]), p["a"])
    np.testing.assert_allclose(updates["a"], want, rtol=1e-12)
    assert int(_torch_state(state.per_param["a"].inner).count) == 1
    assert int(_torch_state(state.per_param["b"].inner).count) == 2
