"""lrjax optimizers in use: inside optax wrappers, as checkpointable state, across dtypes,
with None and masked leaves, through `applied_lr`, and through ``lrjax.compat.torch``.

Expected values come from optax itself (the wrappers and ``optax.adam``), from what a
wrapper is documented to do written out by hand (clipping, gradient averaging, skipping a
step), from closed forms (schedules, Adagrad's decayed rate) and from a NumPy
transcription of torch's AdamW (shared/refs/PEERS.md section 4).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from peer_cases import state_fields

import lrjax
import lrjax.schedules as S
from lrjax.compat import torch

B2 = 1 - 2.0**-10  # exact in binary, so 1 - B2 rounds alike in lrjax and optax
P0 = {"a": [1.0, -2.0, 0.5], "b": [[0.3, -0.7], [1.5, -1.1]]}
WEIGHTS = {"a": 1.0, "b": 1e-4}


def params(dtype=jnp.float32):
    return {k: jnp.asarray(v, dtype) for k, v in P0.items()}


def loss(p):
    f = lambda x: jnp.sum(0.5 * x**2 + 0.1 * x**4 - 0.3 * x)  # noqa: E731
    return sum(WEIGHTS[k] * f(p[k]).astype(jnp.float32) for k in p)


grad = jax.grad(loss)
GRADS = {"a": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array([[1e-4, -2e-4], [3e-4, 0.0]])}


def run(opt, p0, n):
    """Closed-loop params after each of n updates, and the final state."""

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(grad(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    (_, state), ps = jax.lax.scan(step, (p0, opt.init(p0)), length=n)
    return ps, state


def assert_trees_close(got, want, rtol=1e-6, atol=1e-6):
    chex.assert_trees_all_equal_structs(got, want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


# Nine optimizers with options that give each its fullest state.
NINE = {
    "sgd": lambda: lrjax.sgd(S.cosine_decay(0.1, 40), 0.9, dampening=0.1, weight_decay=1e-2),
    "adagrad": lambda: lrjax.adagrad(0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    "adadelta": lambda: lrjax.adadelta(0.5, weight_decay=1e-2),
    "rmsprop": lambda: lrjax.rmsprop(0.01, centered=True, momentum=0.9),
    "adam": lambda: lrjax.adam(0.05, amsgrad=True),
    "adamw": lambda: lrjax.adamw(
        S.warmup(S.cosine_decay(0.05, 40), 3), mask={"a": True, "b": False}
    ),
    "nadam": lambda: lrjax.nadam(0.05),
    "radam": lambda: lrjax.radam(0.05, weight_decay=1e-2, decoupled_weight_decay=True),
    "adamax": lambda: lrjax.adamax(0.05),
}


# ---------------------------------------------------------------------------------------
# optax wrappers
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["adam", "sgd"])
def test_chain_with_clip_by_global_norm_equals_clipping_by_hand(name):
    base = NINE[name]

    def clipped_by_hand(n):
        opt = base()

        def step(carry, _):
            p, state = carry
            g = grad(p)
            norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(g)))
            g = jax.tree.map(lambda x: x * jnp.minimum(1.0, 1.0 / norm), g)
            updates, state = opt.update(g, state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), p

        return jax.lax.scan(step, (params(), opt.init(params())), length=n)[1]

    chained = optax.chain(optax.clip_by_global_norm(1.0), base())
    got, want = jax.jit(lambda: (run(chained, params(), 20)[0], clipped_by_hand(20)))()
    assert float(jnp.linalg.norm(grad(params())["a"])) > 2  # clipping is active
    assert_trees_close(got, want)


def test_multi_steps_updates_every_third_step_with_averaged_gradients():
    k, blocks = 3, 4
    noise = jax.tree.map(
        lambda x: jnp.asarray(
            np.random.default_rng(0).normal(size=(k * blocks, *x.shape)), x.dtype
        ),
        params(),
    )

    @jax.jit
    def go():
        opt = optax.MultiSteps(lrjax.adam(0.1, 0.9, B2), every_k_schedule=k)

        def step(carry, z):
            p, state = carry
            g = jax.tree.map(jnp.add, grad(p), z)
            updates, state = opt.update(g, state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), p

        ps = jax.lax.scan(step, (params(), opt.init(params())), noise)[1]

        # The reference: the plain optimizer on the mean of each block's k gradients,
        # which all see the same params.
        plain = lrjax.adam(0.1, 0.9, B2)
        blocked = jax.tree.map(lambda z: z.reshape(blocks, k, *z.shape[1:]), noise)

        def block(carry, z):
            p, state = carry
            g = jax.tree.map(lambda gp, zb: sum(gp + zb[i] for i in range(k)) / k, grad(p), z)
            updates, state = plain.update(g, state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), p

        want = jax.lax.scan(block, (params(), plain.init(params())), blocked)[1]
        return ps, want

    ps, want = go()
    for key, traj in ps.items():
        traj = np.asarray(traj)
        start = np.asarray(params()[key])
        # Params move only on updates 3, 6, 9, ...; in between they are bitwise unchanged.
        previous = np.concatenate([start[None], traj[:-1]])
        moved = np.any(traj != previous, axis=tuple(range(1, traj.ndim)))
        np.testing.assert_array_equal(moved, [(i + 1) % k == 0 for i in range(k * blocks)])
        np.testing.assert_allclose(traj[k - 1 :: k], want[key], rtol=1e-6, atol=1e-6)


def test_apply_if_finite_skips_a_nan_step_and_keeps_the_state():
    opt = optax.apply_if_finite(lrjax.adam(0.1, 0.9, B2), max_consecutive_errors=3)
    plain = lrjax.adam(0.1, 0.9, B2)
    update, plain_update = jax.jit(opt.update), jax.jit(plain.update)
    p, state = params(), opt.init(params())
    q, plain_state = params(), plain.init(params())
    bad = {"a": jnp.array([1.0, jnp.nan, 0.0]), "b": jnp.ones((2, 2))}
    for i in range(4):
        if i == 2:
            before = state
            updates, state = update(bad, state, p)
            assert all(not bool(jnp.any(u)) for u in jax.tree.leaves(updates))  # all zero
            chex.assert_trees_all_equal(state.inner_state, before.inner_state)
            assert int(state.notfinite_count) == 1 and int(state.total_notfinite) == 1
            assert not bool(state.last_finite)
            continue
        updates, state = update(grad(p), state, p)
        p = optax.apply_updates(p, updates)
        u, plain_state = plain_update(grad(q), plain_state, q)
        q = optax.apply_updates(q, u)
    # The skipped step left no trace: three good steps equal the plain optimizer's three.
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 1
    assert_trees_close(p, q, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "learning_rate", [0.1, S.cosine_decay(0.1, 20, 0.01)], ids=["const", "cos"]
)
def test_inject_hyperparams_matches_plain_and_overrides_the_rate(learning_rate):
    injected = optax.inject_hyperparams(lrjax.adam)(learning_rate=learning_rate)
    got, want = jax.jit(
        lambda: (run(injected, params(), 30)[0], run(lrjax.adam(learning_rate), params(), 30)[0])
    )()
    assert_trees_close(got, want)

    state = injected.init(params())
    _, state = injected.update(GRADS, state, params())
    np.testing.assert_allclose(lrjax.applied_lr(state), 0.1, rtol=1e-7)  # schedule(0)
    if callable(learning_rate):
        return  # a scheduled hyperparameter is recomputed each step, not read from state
    full, _ = injected.update(GRADS, state, params())
    state.hyperparams["learning_rate"] = jnp.asarray(0.03)
    third, new_state = injected.update(GRADS, state, params())
    assert_trees_close(third, jax.tree.map(lambda u: 0.3 * u, full), rtol=1e-6, atol=0)
    np.testing.assert_allclose(lrjax.applied_lr(new_state), 0.03, rtol=1e-7)


# ---------------------------------------------------------------------------------------
# State: pytree round trips, checkpoints and resuming
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NINE)
def test_state_round_trips_and_resume_is_exact(name, tmp_path):
    opt = NINE[name]()

    @jax.jit
    def step(p, state):
        updates, state = opt.update(grad(p), state, p)
        return optax.apply_updates(p, updates), state

    n = 4
    p, state = params(), opt.init(params())
    for _ in range(n):
        p, state = step(p, state)

    leaves, treedef = jax.tree.flatten(state)
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert type(rebuilt) is type(state)
    chex.assert_trees_all_equal(rebuilt, state, strict=True)

    np.savez(tmp_path / "ckpt.npz", *leaves, *jax.tree.leaves(p))
    with np.load(tmp_path / "ckpt.npz") as data:
        arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
    loaded = jax.tree.unflatten(treedef, [jnp.asarray(a) for a in arrays[: len(leaves)]])
    p_loaded = jax.tree.unflatten(
        jax.tree.structure(p), [jnp.asarray(a) for a in arrays[len(leaves) :]]
    )
    chex.assert_trees_all_equal(loaded, state)
    chex.assert_trees_all_equal_dtypes(loaded, state)

    # n more steps from the checkpoint equal n more steps without interruption, bit for bit
    # (dampened momentum must not treat the resumed step as its first, and so on).
    q = p_loaded
    for _ in range(n):
        p, state = step(p, state)
        q, loaded = step(q, loaded)
    chex.assert_trees_all_equal(q, p)
    chex.assert_trees_all_equal(loaded, state)


# ---------------------------------------------------------------------------------------
# Dtypes
# ---------------------------------------------------------------------------------------

LOSS_MIN = 3 * -0.0442427  # f(x*) per coordinate of "a"; x* = 0.29022 solves x + 0.4x³ = 0.3
BF16 = {
    "adam": lambda: lrjax.adam(1e-2),
    "adamw": lambda: lrjax.adamw(1e-2, weight_decay=0.1),
    "nadam": lambda: lrjax.nadam(1e-2),
    "radam": lambda: lrjax.radam(3e-2),
    "rmsprop": lambda: lrjax.rmsprop(1e-2, centered=True, momentum=0.5),
    "adagrad": lambda: lrjax.adagrad(0.1),
}


@pytest.mark.parametrize("name", BF16)
def test_bfloat16_params_give_bfloat16_updates_without_nan(name):
    opt = BF16[name]()
    p0 = params(jnp.bfloat16)

    @jax.jit
    def go():
        def step(carry, _):
            p, state = carry
            updates, state = opt.update(grad(p), state, p)
            return (optax.apply_updates(p, updates), state), updates

        return jax.lax.scan(step, (p0, opt.init(p0)), length=100)

    (p, state), updates = go()
    for u in jax.tree.leaves(updates) + jax.tree.leaves(p):
        assert u.dtype == jnp.bfloat16
        assert bool(jnp.all(jnp.isfinite(u)))
    # At least a quarter of the way from the start (4.48) to the minimum (-0.133; float32
    # runs get 60-100% of the way, bfloat16 params lose steps below half an ulp).
    start = float(loss(p0))
    assert start - float(loss(p)) > 0.25 * (start - LOSS_MIN)


def test_optax_inject_hyperparams_adam_gives_nan_with_bfloat16_params():
    """The optax pitfall lrjax is measured against (OPTAX.md 2.3): the hyperparameters are
    cast to bfloat16, b2 = 0.999 becomes 1.0 and 1 - b2^t = 0."""
    p = params(jnp.bfloat16)
    opt = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    updates, _ = opt.update(jax.tree.map(jnp.ones_like, p), opt.init(p), p)
    assert bool(jnp.all(jnp.isnan(updates["a"])))


def test_inject_hyperparams_lrjax_adam_bfloat16_params_not_silently_nan():
    p = params(jnp.bfloat16)
    opt = optax.inject_hyperparams(lrjax.adam)(learning_rate=1e-3)
    try:
        updates, _ = opt.update(jax.tree.map(jnp.ones_like, p), opt.init(p), p)
    except ValueError as error:  # acceptable: the rounded b2 = 1.0 is rejected by name
        assert "b2" in str(error)
        return
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


def test_inject_hyperparams_lrjax_adam_float32_hyperparams_with_bfloat16_params():
    """The workaround: float32 hyperparameters. The updates are finite and equal the plain
    optimizer's."""
    p = params(jnp.bfloat16)
    g = jax.tree.map(lambda x: (0.1 * x).astype(x.dtype), p)
    opt = optax.inject_hyperparams(lrjax.adam, hyperparam_dtype=jnp.float32)(learning_rate=1e-3)
    plain = lrjax.adam(1e-3)
    got, _ = opt.update(g, opt.init(p), p)
    want, _ = plain.update(g, plain.init(p), p)
    for k in p:
        assert bool(jnp.all(jnp.isfinite(got[k])))
        np.testing.assert_allclose(
            np.asarray(got[k], np.float32), np.asarray(want[k], np.float32), rtol=1e-2
        )


@pytest.mark.parametrize(
    "build",
    [
        lambda wd: lrjax.adamw(1e-3, weight_decay=wd),
        lambda wd: lrjax.sgd(1e-3, 0.9, weight_decay=wd),
        lambda wd: lrjax.adam(1e-3, weight_decay=wd),
    ],
    ids=["adamw", "sgd", "adam_l2"],
)
def test_array_weight_decay_keeps_bfloat16_updates(build):
    p = params(jnp.bfloat16)
    opt = build(jnp.float32(1e-2))
    updates, _ = opt.update(jax.tree.map(jnp.ones_like, p), opt.init(p), p)
    assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))


# name -> (build(mu_dtype, nu_dtype), fields holding the first moment, the second moment)
MOMENT_DTYPES = {
    "sgd": (lambda mu, nu: lrjax.sgd(0.1, 0.9, mu_dtype=mu), ["momentum"], []),
    "adagrad": (lambda mu, nu: lrjax.adagrad(0.1, nu_dtype=nu), [], ["sum_of_squares"]),
    "adadelta": (lambda mu, nu: lrjax.adadelta(nu_dtype=nu), [], ["nu", "delta"]),
    "rmsprop": (
        lambda mu, nu: lrjax.rmsprop(0.1, centered=True, momentum=0.9, mu_dtype=mu, nu_dtype=nu),
        ["mu", "momentum"],
        ["nu"],
    ),
    "adam": (
        lambda mu, nu: lrjax.adam(0.1, amsgrad=True, mu_dtype=mu, nu_dtype=nu),
        ["mu"],
        ["nu", "nu_max"],
    ),
    "adamw": (lambda mu, nu: lrjax.adamw(0.1, mu_dtype=mu, nu_dtype=nu), ["mu"], ["nu"]),
    "nadam": (lambda mu, nu: lrjax.nadam(0.1, mu_dtype=mu, nu_dtype=nu), ["mu"], ["nu"]),
    "radam": (lambda mu, nu: lrjax.radam(0.1, mu_dtype=mu, nu_dtype=nu), ["mu"], ["nu"]),
    "adamax": (lambda mu, nu: lrjax.adamax(0.1, mu_dtype=mu, nu_dtype=nu), ["mu"], ["nu"]),
}


@pytest.mark.parametrize("name", MOMENT_DTYPES)
def test_mu_and_nu_dtype_set_the_state_dtypes(name):
    build, mu_fields, nu_fields = MOMENT_DTYPES[name]
    opt = build(jnp.bfloat16, jnp.float16)

    def init_and_update():
        state = opt.init(params())
        return state, *opt.update(GRADS, state, params())

    # Shapes and dtypes only: jax.eval_shape traces without compiling.
    state, updates, after = jax.eval_shape(init_and_update)
    for s in (state, after):
        for fields, dtype in ((mu_fields, jnp.bfloat16), (nu_fields, jnp.float16)):
            for field in fields:
                trees = state_fields(s, field)
                assert trees, field
                for leaf in jax.tree.leaves(trees):
                    assert leaf.dtype == dtype, (field, leaf.dtype)
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))


@pytest.mark.parametrize("name", NINE)
def test_float64_params_give_float64_updates_and_state(name, x64):
    opt = NINE[name]()
    p = params(jnp.float64)
    g = jax.tree.map(lambda x: x.astype(jnp.float64), GRADS)
    updates, state = jax.eval_shape(lambda: opt.update(g, opt.init(p), p))
    assert all(u.dtype == jnp.float64 for u in jax.tree.leaves(updates))
    for leaf in jax.tree.leaves(state):
        assert leaf.dtype in (jnp.float64, jnp.int32), leaf.dtype
    for count in state_fields(state, "count"):
        assert count.dtype == jnp.int32


def _with_counts(state, value):
    """`state` with every `count` field (at any depth) set to `value`, via _replace."""
    if hasattr(state, "_fields"):
        children = {f: _with_counts(getattr(state, f), value) for f in state._fields}
        if "count" in children:
            children["count"] = jnp.asarray(value, jnp.int32)
        return state._replace(**children)
    if isinstance(state, tuple):
        return tuple(_with_counts(x, value) for x in state)
    return state


@pytest.mark.parametrize("name", NINE)
def test_count_is_int32_and_saturates(name):
    opt = NINE[name]()
    top = 2**31 - 1
    state = _with_counts(opt.init(params()), top)
    counts = state_fields(state, "count")
    assert counts and all(c.dtype == jnp.int32 for c in counts)
    updates, state = opt.update(GRADS, state, params())
    for c in state_fields(state, "count"):
        assert c.dtype == jnp.int32 and int(c) == top
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))
    assert bool(jnp.isfinite(lrjax.applied_lr(state)))


# ---------------------------------------------------------------------------------------
# None and masked leaves
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NINE)
def test_none_leaves(name):
    opt = NINE[name]()
    if name == "adamw":  # its mask names the leaves of `params()`
        opt = lrjax.adamw(0.05)
    p = {"a": params()["a"], "none": None, "b": params()["b"]}
    g = {"a": GRADS["a"], "none": None, "b": GRADS["b"]}
    updates, state = opt.update(g, opt.init(p), p)
    assert updates["none"] is None
    assert updates["a"].shape == (3,) and updates["b"].shape == (2, 2)

    # Dropping the None leaf changes nothing for the others.
    plain = {k: v for k, v in p.items() if v is not None}
    want, _ = opt.update({"a": GRADS["a"], "b": GRADS["b"]}, opt.init(plain), plain)
    assert_trees_close({k: updates[k] for k in want}, want, rtol=1e-7, atol=0)

    # A None gradient for an existing parameter: no update, that leaf's state untouched.
    state0 = opt.init(params())
    updates, state1 = opt.update({"a": GRADS["a"], "b": None}, state0, params())
    assert updates["b"] is None and updates["a"].shape == (3,)
    for field in ("mu", "nu", "momentum", "sum_of_squares", "delta"):
        for before, after in zip(
            state_fields(state0, field), state_fields(state1, field), strict=True
        ):
            if isinstance(before, dict) and before.get("b") is not None:
                np.testing.assert_array_equal(after["b"], before["b"])


def test_optax_masked_passes_unmasked_leaves_through_like_optax():
    mask = {"a": True, "b": False}
    ours = optax.masked(lrjax.adam(0.1, 0.9, B2), mask)
    theirs = optax.masked(optax.adam(0.1, 0.9, B2), mask)
    s_ours, s_theirs = ours.init(params()), theirs.init(params())
    for _ in range(3):
        u_ours, s_ours = ours.update(GRADS, s_ours, params())
        u_theirs, s_theirs = theirs.update(GRADS, s_theirs, params())
        np.testing.assert_array_equal(u_ours["b"], GRADS["b"])  # untouched, as optax does
        np.testing.assert_allclose(u_ours["a"], u_theirs["a"], rtol=1e-6)
    np.testing.assert_allclose(lrjax.applied_lr(s_ours), 0.1, rtol=1e-7)


# ---------------------------------------------------------------------------------------
# applied_lr
# ---------------------------------------------------------------------------------------

SCHEDULE = S.warmup(S.cosine_decay(0.1, 20, 0.001), 4, init=0.01)


def _ref_schedule(k):
    """SCHEDULE's closed form: linear warmup 0.01 -> 0.1 over 4 steps, then cosine."""
    if k < 4:
        return 0.01 + (0.1 - 0.01) * k / 4
    c = 0.5 * (1 + np.cos(np.pi * min(k - 4, 20) / 20))
    return 0.001 + (0.1 - 0.001) * c


def test_applied_lr_constant_and_schedule():
    opt = lrjax.adam(0.03)
    state = opt.init(params())
    np.testing.assert_allclose(lrjax.applied_lr(state), 0.03, rtol=1e-7)
    _, state = opt.update(GRADS, state, params())
    np.testing.assert_allclose(lrjax.applied_lr(state), 0.03, rtol=1e-7)

    opt = lrjax.sgd(SCHEDULE, 0.9)
    state = opt.init(params())
    np.testing.assert_allclose(lrjax.applied_lr(state), _ref_schedule(0), rtol=1e-6)
    update = jax.jit(opt.update)
    for k in range(1, 12):  # after k updates: the rate of update k, schedule(k - 1)
        _, state = update(GRADS, state, params())
        np.testing.assert_allclose(lrjax.applied_lr(state), _ref_schedule(k - 1), rtol=1e-6)


def test_applied_lr_under_vmap_is_batched():
    lrs = jnp.array([0.1, 0.02, 0.003])

    def final_rate(peak):
        opt = lrjax.rmsprop(S.cosine_decay(peak, 10), momentum=0.9)
        _, state = run(opt, params(), 5)
        return lrjax.applied_lr(state)

    got = jax.jit(jax.vmap(final_rate))(lrs)
    want = [p * 0.5 * (1 + np.cos(np.pi * 4 / 10)) for p in np.asarray(lrs)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _rates(opt, n):
    """applied_lr after each of n updates (jitted update)."""
    update = jax.jit(opt.update)
    state, rates = opt.init(params()), []
    for _ in range(n):
        _, state = update(GRADS, state, params())
        rates.append(float(lrjax.applied_lr(state)))
    return np.asarray(rates)


def test_applied_lr_through_optax_wrappers():
    every_step = [_ref_schedule(k) for k in range(6)]
    chain = optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(SCHEDULE))
    np.testing.assert_allclose(_rates(chain, 6), every_step, rtol=1e-6)
    # MultiSteps runs the inner optimizer on every third call only; before its first
    # inner update the state reports the rate that update will use, schedule(0).
    multi = optax.MultiSteps(lrjax.adam(SCHEDULE), every_k_schedule=3)
    want = [_ref_schedule(k) for k in (0, 0, 0, 0, 0, 1, 1)]
    np.testing.assert_allclose(_rates(multi, 7), want, rtol=1e-6)
    finite = optax.apply_if_finite(lrjax.sgd(SCHEDULE), max_consecutive_errors=2)
    np.testing.assert_allclose(_rates(finite, 3), every_step[:3], rtol=1e-6)
    injected = optax.inject_hyperparams(lrjax.adamw)(learning_rate=0.02)
    np.testing.assert_allclose(_rates(injected, 2), [0.02, 0.02], rtol=1e-6)
    masked = optax.masked(lrjax.nadam(SCHEDULE), {"a": True, "b": False})
    np.testing.assert_allclose(_rates(masked, 3), every_step[:3], rtol=1e-6)


def test_applied_lr_adagrad_lr_decay():
    lr, decay = 0.1, 0.05
    opt = lrjax.adagrad(lr, lr_decay=decay)
    state = opt.init(params())
    np.testing.assert_allclose(lrjax.applied_lr(state), lr, rtol=1e-7)
    for k in range(1, 6):  # update k uses lr / (1 + (k - 1) lr_decay), as torch
        _, state = opt.update(GRADS, state, params())
        np.testing.assert_allclose(lrjax.applied_lr(state), lr / (1 + (k - 1) * decay), rtol=1e-6)


def test_applied_lr_rejects_a_plain_optax_state():
    opt = optax.adam(0.1)
    with pytest.raises(ValueError, match="applied_lr"):
        lrjax.applied_lr(opt.init(params()))


# ---------------------------------------------------------------------------------------
# lrjax.compat.torch
# ---------------------------------------------------------------------------------------


def test_torch_adamw_with_one_cycle_lr_and_cycled_beta1(x64):
    """Ported torch pair: ``AdamW(lr=sched, betas=(sched.momentum, 0.999))``. The reference
    is torch's AdamW step in NumPy with update t using lr = s(t-1) and β1 = s.momentum(t-1),
    and the bias correction 1 - β1(t)^t with the current β1 (PEERS.md 4)."""
    s = torch.OneCycleLR(0.05, max_lr=0.1, total_steps=50)
    opt = torch.AdamW(lr=s, betas=(s.momentum, 0.999), weight_decay=0.1)
    p0 = params(jnp.float64)
    steps = jnp.arange(50)
    (got, _), lrs, betas = jax.jit(lambda: (run(opt, p0, 50), s(steps), s.momentum(steps)))()
    lrs, betas = np.asarray(lrs, np.float64), np.asarray(betas, np.float64)
    p = {k: np.asarray(v, np.float64) for k, v in P0.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    for t in range(1, 51):
        lr, b1, b2 = lrs[t - 1], betas[t - 1], 0.999
        for k in p:
            g = WEIGHTS[k] * (p[k] + 0.4 * p[k] ** 3 - 0.3)
            p[k] = p[k] * (1 - lr * 0.1)
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            denom = np.sqrt(v[k]) / np.sqrt(1 - b2**t) + 1e-8
            p[k] = p[k] - lr / (1 - b1**t) * m[k] / denom
    for k in p:
        assert got[k].dtype == jnp.float64
        np.testing.assert_allclose(got[k][-1], p[k], rtol=1e-10, atol=1e-12)


# torch's documented defaults, given explicitly to the native constructors.
TORCH_DEFAULTS = {
    "SGD": lambda: lrjax.sgd(1e-3),
    "Adagrad": lambda: lrjax.adagrad(1e-2, initial_accumulator_value=0.0, eps=1e-10),
    "Adadelta": lambda: lrjax.adadelta(1.0, rho=0.9, eps=1e-6),
    "RMSprop": lambda: lrjax.rmsprop(1e-2, decay=0.99, eps=1e-8),
    "Adam": lambda: lrjax.adam(1e-3, 0.9, 0.999, 1e-8),
    "AdamW": lambda: lrjax.adamw(1e-3, 0.9, 0.999, 1e-8, weight_decay=1e-2),
    "NAdam": lambda: lrjax.nadam(2e-3, 0.9, 0.999, 1e-8, momentum_decay=4e-3),
    "RAdam": lambda: lrjax.radam(1e-3, 0.9, 0.999, 1e-8),
    "Adamax": lambda: lrjax.adamax(2e-3, 0.9, 0.999, 1e-8),
}


@pytest.mark.parametrize("name", TORCH_DEFAULTS)
def test_torch_defaults_are_the_documented_ones(name):
    compat = getattr(torch, name)
    got, want = jax.jit(
        lambda: (run(compat(), params(), 20)[0], run(TORCH_DEFAULTS[name](), params(), 20)[0])
    )()
    chex.assert_trees_all_equal(got, want)  # leaf "b" (gradients ~1e-4) tells eps apart
    compat(foreach=True, fused=False, capturable=False, differentiable=False)  # accepted
    with pytest.raises(TypeError, match="unexpected keyword"):
        compat(momentum_buffer=True)
