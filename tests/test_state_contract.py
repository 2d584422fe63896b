"""What every optimizer's state promises, checked for every public constructor at once.

The constructors are enumerated from lrjax's public namespaces (``lrjax``,
``lrjax.transforms``, ``lrjax.adaptive`` and the optimizer modules of ``lrjax.compat``), so
a new one fails `test_every_public_constructor_has_a_case` until it is given a case here.
Each case builds the constructor with the options that give it its fullest state.

(a) A state donated to a jitted step (``donate_argnums``) runs twice and gives the same
    numbers as without donation: no two state leaves (and no state leaf and the params)
    share a buffer.
(b) Updates inside ``lax.scan`` keep the state's dtypes, shapes and structure (a carry
    that changes type fails the scan), for float32, bfloat16 and float16 params and the
    moment-dtype options.
(c) Non-finite gradients propagate, as in optax: a NaN gradient entry makes the update
    NaN, so the user sees it; ``optax.apply_if_finite`` skips such a step and leaves the
    state as it was. Extreme finite gradients (1e30 in float32) give no NaN; where a
    method's state holds a sum of squares, that sum overflows to inf (1e60 is beyond
    float32, for optax's Adam as well) and the update stays finite.
"""

from __future__ import annotations

import functools
import inspect

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.tree_util import GetAttrKey

import lrjax
from lrjax import adaptive as A
from lrjax import transforms as T
from lrjax.compat import dadaptation, dog, hypergrad, mechanic, prodigyopt, schedulefree
from lrjax.compat.torch import optim as torch
from lrjax.compat.torch import swa_utils

# ---------------------------------------------------------------------------------------
# The constructors
# ---------------------------------------------------------------------------------------

NAMESPACES = [lrjax, T, A, dadaptation, prodigyopt, dog, schedulefree, hypergrad, torch]
NAMESPACES.append(mechanic)
# Public functions of those namespaces that read a state rather than build a transformation.
ACCESSORS = {
    lrjax.applied_lr,
    lrjax.asgd_average,
    lrjax.iterate_average,
    A.averaged_params,
    A.eval_params,
}


def public_constructors() -> set:
    found = set()
    for module in NAMESPACES:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and obj not in ACCESSORS:
                found.add(obj)
    return found


BF16, F16 = jnp.bfloat16, jnp.float16
CASES: dict[str, tuple] = {}


def case(fn, *args, variant: str = "", **kwargs) -> None:
    name = fn.__name__ + (f"[{variant}]" if variant else "")
    assert name not in CASES, name
    CASES[name] = (fn, functools.partial(fn, *args, **kwargs))


# lrjax.transforms (also the top-level names)
case(T.sgd, 0.1)
case(T.sgd, 0.1, 0.9, dampening=0.1, weight_decay=1e-2, variant="momentum")
case(T.sgd, 0.1, 0.9, nesterov=True, mu_dtype=BF16, variant="nesterov,mu_bf16")
case(T.scale_by_momentum, 0.9, 0.1)
case(T.adagrad, 0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=1e-2)
case(T.scale_by_adagrad, 0.1, eps_in_sqrt=True, nu_dtype=BF16)
case(T.adadelta, 0.5, weight_decay=1e-2)
case(T.scale_by_adadelta, nu_dtype=F16)
case(T.rmsprop, 0.01)
case(T.rmsprop, 0.01, centered=True, momentum=0.9, variant="centered,momentum")
case(T.rmsprop, 0.01, centered=True, mu_dtype=BF16, nu_dtype=F16, variant="centered,bf16,f16")
case(T.scale_by_rms, centered=True, eps_in_sqrt=True, bias_correction=True)
case(T.adam, 0.05)
case(T.adam, 0.05, amsgrad=True, eps_root=1e-8, weight_decay=1e-2, variant="amsgrad")
case(T.adam, 0.05, mu_dtype=BF16, nu_dtype=F16, variant="bf16,f16")
case(T.scale_by_adam, amsgrad=True, eps_hat=True)
case(T.adamw, 0.05, mask={"w": True, "m": False})
case(T.nadam, 0.05, weight_decay=1e-2, decoupled_weight_decay=True)
case(T.nadam, 0.05, momentum_decay=None, variant="constant_momentum")
case(T.scale_by_nadam, mu_dtype=BF16)
case(T.radam, 0.05, weight_decay=1e-2)
case(T.scale_by_radam, threshold=4.0)
case(T.adamax, 0.05, weight_decay=1e-2)
case(T.scale_by_adamax, nu_dtype=BF16)
case(T.adamaxw, 0.05, mask={"w": True, "m": False})
case(T.rprop, 0.05, 0.3, 1.5, 1e-4, 1.0)
case(T.asgd, 0.05, 0.1, 0.75, 2.0, weight_decay=1e-2)
case(T.lazy_adam, 0.05, eps_hat=False, tables=True, mu_dtype=BF16)
case(T.lazy_adam, 0.05, nu_dtype=F16, variant="default_tables,f16")
case(T.scale_by_lazy_adam, tables={"w": True, "m": True}, nu_dtype=BF16)
case(T.lazy_adagrad, 0.1, initial_accumulator_value=0.1, lr_decay=0.01, tables=True)
case(T.scale_by_lazy_adagrad, 0.1, tables=lambda g: {"w": True, "m": True}, nu_dtype=BF16)
case(T.average_iterates, T.adam(0.05), "ema", decay=0.9, start=1, every=1)
case(T.average_iterates, T.sgd(0.1, 0.9), average_dtype=jnp.float32, variant="swa,f32_average")
case(T.sign_sgd, 0.05)
case(T.signum, 0.05, 0.9, mu_dtype=BF16)
case(T.scale_by_sign, 0.9)
case(T.lion, 0.05, weight_decay=1e-2, mu_dtype=BF16)
case(T.scale_by_lion, 0.8, 0.95)
case(T.adabelief, 0.05, weight_decay=1e-2, decoupled=True)
case(T.scale_by_belief, mu_dtype=BF16, nu_dtype=F16)
case(T.yogi, 0.05, weight_decay=1e-2)
case(T.scale_by_yogi, eps_root=1e-8)
case(
    T.adafactor,
    0.05,
    min_dim_size_to_factor=2,
    momentum=0.9,
    dtype_momentum=BF16,
    weight_decay_rate=1e-2,
    weight_decay_mask={"w": True, "m": False},
)
case(T.adafactor, variant="defaults")  # "m" (2x2) unfactored, learning_rate None
case(T.scale_by_factored_rms, min_dim_size_to_factor=2)
case(T.sm3, 0.05)
case(T.scale_by_sm3, 0.9, 0.99)
case(T.scale_by_trust_ratio, 0.1, 0.5, 1e-3)
case(
    T.lars,
    0.1,
    1e-2,
    {"w": False, "m": True},
    trust_ratio_mask=lambda p: {"w": False, "m": True},
    nesterov=True,
    mu_dtype=BF16,
)
case(
    T.lamb,
    0.05,
    weight_decay=1e-2,
    mask={"w": False, "m": True},
    trust_ratio_mask={"w": False, "m": True},
    mu_dtype=BF16,
    nu_dtype=F16,
)
case(T.novograd, 0.05, weight_decay=1e-2)
case(T.scale_by_novograd, weight_decay=1e-2, mu_dtype=BF16)
case(T.scale_by_learning_rate, lrjax.schedules.cosine_decay(0.1, 10))
case(T.descent, T.scale_by_adam(), T.scale_by_rms(), learning_rate=0.1, weight_decay=1e-2)
case(T.param_groups, {"matrix": ("m", T.adam(0.05, mu_dtype=BF16))}, default=T.sgd(0.1, 0.9))
case(T.layer_decay, T.adamw, 0.05, 0.5, 2, layer=lambda name, depth: 0 if name == "w" else depth)
# lrjax.adaptive
case(A.dadapt_adam, weight_decay=1e-2, bias_correction=True)
case(A.dadapt_adam, weight_decay=1e-2, decoupled=True, variant="decoupled")
case(A.dadapt_sgd, 0.3, momentum=0.9, weight_decay=1e-2)
case(A.dadapt_adagrad, momentum=0.9, weight_decay=1e-2)
case(A.prodigy, weight_decay=1e-2, bias_correction=True)
case(A.prodigy, safeguard_warmup=True, decoupled=False, mu_dtype=BF16, variant="coupled,mu_bf16")
case(A.dog, weight_decay=1e-2)
case(A.dog, init_eta=1e-3, layerwise=True, variant="layerwise")
case(A.polynomial_average, A.dog())
case(A.dowg, 1.0, 1e-2, weight_decay=1e-2)
case(A.scale_by_dowg)
case(A.cocob, 1.0, weight_decay=1e-2)
case(A.scale_by_cocob, 50.0, learning_rate=lrjax.schedules.cosine_decay(1.0, 10))
case(A.mechanize, T.adam(0.05), num_betas=3)
case(A.mechanize, T.adam(0.05), store_delta=True, variant="store_delta")
case(A.polyak_sgd, 0.5, lrjax.schedules.cosine_decay(1.0, 10), -1.0, 1e-8, "sps+")
case(A.scale_by_polyak, -1.0)
case(mechanic.mechanize, T.sgd(0.1, 0.9), betas=(0.9, 0.99), variant="package")
case(A.schedule_free, T.scale_by_adam(), 0.05, warmup_steps=2)
case(A.schedule_free_sgd, 0.05, warmup_steps=2, weight_decay=1e-2)
case(A.schedule_free_adamw, 0.05, weight_decay=1e-2, decay_at_z=True, nu_dtype=BF16)
case(A.hypergradient, T.scale_by_rms(), 0.01, 1e-4)
case(A.sgd_hd, 0.02, 1e-5, 0.9, weight_decay=1e-2)
case(A.sgd_hd, 0.02, 1e-3, multiplicative=True, max_lr=0.1, variant="multiplicative")
case(A.adam_hd, 0.05, 1e-4, mu_dtype=BF16)
case(A.scale_by_loss, 1.0)
case(A.reduce_on_plateau, 0.5, 1, accumulation_size=2)
case(A.decay_on_gradient_stall, 0.5, 1, 1e-1, cooldown=1)
# lrjax.compat
case(dadaptation.DAdaptAdam, weight_decay=1e-2, use_bias_correction=True)
case(dadaptation.DAdaptSGD, 0.3, momentum=0.9)
case(dadaptation.DAdaptAdaGrad, momentum=0.9)
case(prodigyopt.Prodigy, weight_decay=1e-2)
case(dog.DoG)
case(dog.LDoG)
case(dog.PolynomialDecayAverager, dog.LDoG())
case(schedulefree.SGDScheduleFree, 0.05)
case(schedulefree.AdamWScheduleFree, 0.05, weight_decay=1e-2)
case(hypergrad.SGDHD, 0.02, momentum=0.9, nesterov=True)
case(hypergrad.AdamHD, 0.05)
case(torch.SGD, 0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2)
case(torch.Adagrad, 0.1, lr_decay=0.01)
case(torch.Adadelta, weight_decay=1e-2)
case(torch.RMSprop, centered=True, momentum=0.9)
case(torch.Adam, amsgrad=True, weight_decay=1e-2)
case(torch.AdamW)
case(torch.AdamW, [{"params": "w", "lr": 1e-3}, {"params": "m", "lr_scale": 0.5}], variant="groups")
case(torch.NAdam, decoupled_weight_decay=True, weight_decay=1e-2)
case(torch.RAdam)
case(torch.Adamax, maximize=True)
case(torch.Rprop, etas=(0.4, 1.3), maximize=True)
case(torch.ASGD, lambd=0.1, t0=1.0, maximize=True)
case(torch.SparseAdam, betas=(0.8, 0.99), maximize=True)
case(swa_utils.AveragedModel, torch.SGD(0.1, momentum=0.9), swa_utils.get_ema_multi_avg_fn(0.9))
case(torch.Adafactor, weight_decay=1e-2, maximize=True)


def build(name: str) -> optax.GradientTransformationExtraArgs:
    """The case's transformation, taking ``value=`` (the loss) as every case is fed it."""
    return optax.with_extra_args_support(CASES[name][1]())


def test_every_public_constructor_has_a_case():
    covered = {fn for fn, _ in CASES.values()}
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in public_constructors() - covered)
    assert not missing, f"give these a case in CASES: {missing}"
    # and the enumeration sees what it should: all of these are public constructors
    assert {lrjax.adam, A.prodigy, dog.LDoG, torch.RMSprop} <= public_constructors()


# ---------------------------------------------------------------------------------------
# A tiny problem
# ---------------------------------------------------------------------------------------

P0 = {"w": [0.5, -1.0, 2.0], "m": [[0.3, -0.7], [1.5, 0.0]]}


def params(dtype=jnp.float32):
    return {k: jnp.asarray(v, dtype) for k, v in P0.items()}


def loss(p):
    return sum(jnp.sum(0.5 * x.astype(jnp.float32) ** 2 - 0.3 * x) for x in p.values())


def grad(p):
    """The gradient of `loss`, in the params' dtypes."""
    return jax.tree.map(lambda x: (x.astype(jnp.float32) - 0.3).astype(x.dtype), p)


def step_fn(opt):
    def step(p, state):
        updates, state = opt.update(grad(p), state, p, value=loss(p))
        return optax.apply_updates(p, updates), state

    return step


def avals(tree):
    return jax.tree.map(lambda x: (jnp.dtype(x.dtype), tuple(x.shape)), tree)


def floats(tree) -> list:
    return [np.asarray(x) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]


def has_nan(tree) -> bool:
    return any(np.isnan(x).any() for x in floats(tree))


def assert_trees_close(got, want):
    """Equal up to the roundings in which a jitted update may differ from one run op by op
    (XLA fuses and reorders): a wrong or reused buffer is off by far more."""
    chex.assert_trees_all_equal_structs(got, want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        assert g.dtype == w.dtype
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# (a) donation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_donated_state_runs_twice_and_equals_the_run_without_donation(name):
    opt = build(name)
    step = step_fn(opt)
    donated = jax.jit(step, donate_argnums=(0, 1))
    # The run without donation, op by op (no second compilation of the step).
    p1, s1 = step(params(), opt.init(params()))
    # Copied out: p2, s2 share buffers with p1, s1 (the initial params x0 pass through).
    want = jax.tree.map(np.array, step(p1, s1))

    p, s = params(), opt.init(params())
    given = jax.tree.leaves((p, s))
    got = donated(*donated(p, s))  # the second call donates the state the first returned
    # A buffer in two leaves would have raised "Attempt to donate the same buffer twice".
    # The donation took place: the params' and moments' buffers were reused (deleted here).
    # (A scalar whose new value is a constant, such as a constant learning rate, is not.)
    assert all(x.is_deleted() for x in given if x.ndim > 0)
    assert_trees_close(got, want)
    # A state from an update outside jit donates as well.
    assert_trees_close(donated(p1, s1), want)


# ---------------------------------------------------------------------------------------
# (b) dtypes, shapes and structure
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, BF16, F16], ids=["f32", "bf16", "f16"])
@pytest.mark.parametrize("name", CASES)
def test_updates_keep_the_state_dtypes_shapes_and_structure(name, dtype):
    opt = build(name)
    step = step_fn(opt)

    def run(p):
        state = opt.init(p)
        # scan refuses a carry whose dtype or shape an update changes
        (p3, last), _ = jax.lax.scan(lambda c, _: (step(*c), None), (p, state), length=3)
        updates, _ = opt.update(grad(p3), last, p3, value=loss(p3))
        return state, last, p3, updates

    # Shapes and dtypes only: eval_shape traces the scan without compiling it.
    state, last, p3, updates = jax.eval_shape(run, params(dtype))
    assert jax.tree.structure(last) == jax.tree.structure(state)
    assert avals(last) == avals(state)
    assert avals(p3) == avals(updates) == avals(params(dtype))


# ---------------------------------------------------------------------------------------
# (c) extreme finite gradients
# ---------------------------------------------------------------------------------------

BIG = {"w": [1e30, -1e30, 0.0], "m": [[1e30, 1e30], [-1e30, 1e30]]}
# State fields holding a sum, an average or a maximum of squared gradients: 1e60 is beyond
# float32 (max 3.4e38), so they overflow to +inf, as optax's do (Adam's v, AdaGrad's
# accumulator, DoG's G, D-Adaptation's and Prodigy's v and α). The step that divides by
# their root is then 0: finite.
SQUARES = {"nu", "nu_max", "sum_of_squares", "alpha", "G"}
SQUARES |= {"v_row", "v_col", "v"}  # Adafactor's (factored) second moments
SQUARES |= {"v"}  # Mechanic's discounted sum of squared products h²
# The additive hypergradient rate α + β <g, u> is about 1e55 for gradients of 1e30 with a
# direction u of their size: beyond float32, it becomes +inf, and so do the updates. (With
# Adam's or RMSprop's direction u is 0 there, and the rate stays.)
RATE_OVERFLOWS = {"sgd_hd", "SGDHD"}


def field_names(path) -> set:
    return {k.name for k in path if isinstance(k, GetAttrKey)}


@pytest.mark.parametrize("name", CASES)
def test_gradients_of_1e30_give_no_nan(name):
    opt = build(name)
    p, state = params(), opt.init(params())
    big = {k: jnp.asarray(v, jnp.float32) for k, v in BIG.items()}
    for _ in range(2 if name in RATE_OVERFLOWS else 3):
        updates, state = opt.update(big, state, p, value=jnp.asarray(1.0))  # a finite loss
        p = optax.apply_updates(p, updates)
    if name in RATE_OVERFLOWS:
        assert np.isposinf(lrjax.applied_lr(state))
        return
    assert not has_nan(state) and not has_nan(updates)
    assert all(np.isfinite(u).all() for u in floats(updates))
    for path, x in jax.tree_util.tree_flatten_with_path(state)[0]:
        x = np.asarray(x)
        if not np.isfinite(x).all():
            assert field_names(path) & SQUARES, jax.tree_util.keystr(path)
            assert np.isposinf(x[~np.isfinite(x)]).all()


@pytest.mark.parametrize("size", [1e20, 1e30])
def test_multiplicative_hypergradient_cosine_where_the_norms_overflow(size):
    # Σ g·u and |g| |u| overflow float32 (1e40, 1e60); the cosine of g and u = g is 1.
    g = {"w": jnp.full(3, size), "m": jnp.full((2, 2), -size)}
    opt = A.sgd_hd(0.02, 1e-3, multiplicative=True)
    state = opt.init(params())
    for _ in range(2):
        updates, state = opt.update(g, state, params())
    np.testing.assert_allclose(lrjax.applied_lr(state), 0.02 * (1 + 1e-3), rtol=1e-6)
    np.testing.assert_allclose(updates["m"], 0.02 * (1 + 1e-3) * size, rtol=1e-6)


def test_centered_rmsprop_steps_0_where_v_overflows_where_optax_gives_nan():
    big = {k: jnp.asarray(v, jnp.float32) for k, v in BIG.items()}
    ours, theirs = T.rmsprop(0.01, centered=True), optax.rmsprop(0.01, centered=True)
    u, _ = ours.update(big, ours.init(params()), params())
    v, _ = theirs.update(big, theirs.init(params()), params())
    assert has_nan(v)  # optax: sqrt(v - ḡ²) = sqrt(inf - inf)
    chex.assert_trees_all_equal(u, jax.tree.map(jnp.zeros_like, u))


def test_dog_distance_of_1e27_keeps_the_step_size_finite():
    # LDoG's first step of init_eta · 1e30 moves x by 1e27: the distance is finite although
    # its square is not, so η = r̄ / sqrt(G) is 1e27 / inf = 0, not inf / inf = NaN.
    opt = A.dog(init_eta=1e-3, layerwise=True)
    p, state = params(), opt.init(params())
    big = {k: jnp.asarray(v, jnp.float32) for k, v in BIG.items()}
    for _ in range(2):
        updates, state = opt.update(big, state, p)
        p = optax.apply_updates(p, updates)
    np.testing.assert_allclose(state.rbar["w"], 1e-3 * np.sqrt(2) * 1e30, rtol=1e-6)
    assert np.isposinf(state.G["w"]) and state.eta["w"] == 0


# ---------------------------------------------------------------------------------------
# (c) non-finite gradients
# ---------------------------------------------------------------------------------------

# States that never see the gradient: the NaN reaches the update, not the state.
GRADIENT_FREE_STATE = {
    "sgd",
    "sign_sgd",  # keeps only its count
    "scale_by_trust_ratio",  # keeps nothing (optax.EmptyState)
    "scale_by_learning_rate",
    "scale_by_loss",
    "reduce_on_plateau",
}


def with_nan(g):
    return {**g, "w": g["w"].at[1].set(jnp.nan)}


@pytest.mark.parametrize("name", CASES)
def test_a_nan_gradient_entry_gives_a_nan_update_and_state(name):
    opt = build(name)
    p, state = step_fn(opt)(params(), opt.init(params()))  # not the first gradient
    updates, state = opt.update(with_nan(grad(p)), state, p, value=loss(p))
    assert np.isnan(updates["w"]).any()
    holds = name not in GRADIENT_FREE_STATE
    assert has_nan(state) == holds
    # Where the state holds the NaN, the next finite gradient (at the same params) does
    # not hide it either: no silent zero steps from here on. ASGD keeps the NaN in its
    # iterate average (what asgd_average returns for evaluation); its steps never read
    # the average, as torch's do not.
    updates, _ = opt.update(grad(p), state, p, value=loss(p))
    assert has_nan(updates) == (holds and name not in AVERAGE_ONLY)


AVERAGE_ONLY = {"asgd", "ASGD"}
# Polyak keeps only the step size of the last update, which the NaN gradient made NaN.
AVERAGE_ONLY |= {"polyak_sgd", "scale_by_polyak"}


SKIPPED = ["dadapt_adam", "dadapt_sgd", "prodigy", "Prodigy", "dog", "schedule_free_adamw"]


@pytest.mark.parametrize("name", SKIPPED)
def test_apply_if_finite_skips_the_nan_step_and_training_goes_on(name):
    guarded = optax.apply_if_finite(build(name), max_consecutive_errors=1)
    plain = build(name)
    update = jax.jit(guarded.update)
    p, state = params(), guarded.init(params())
    q, plain_state = params(), plain.init(params())
    for i in range(6):
        if i in (2, 4):  # a NaN step: nothing moves, the inner state stays as it was
            before = state.inner_state
            updates, state = update(with_nan(grad(p)), state, p, value=loss(p))
            chex.assert_trees_all_equal(updates, jax.tree.map(jnp.zeros_like, p))
            chex.assert_trees_all_equal(state.inner_state, before)
            continue
        updates, state = update(grad(p), state, p, value=loss(p))
        p = optax.apply_updates(p, updates)
        u, plain_state = plain.update(grad(q), plain_state, q, value=loss(q))
        q = optax.apply_updates(q, u)
    # The skipped steps left no trace: four good steps equal the plain optimizer's four.
    assert int(state.total_notfinite) == 2
    assert_trees_close((p, state.inner_state), (q, plain_state))
    assert loss(q) < loss(params())  # and they trained
    # A second NaN step in a row is more than max_consecutive_errors: it is applied, and
    # its update is NaN, not a silent zero.
    for _ in range(2):
        updates, state = update(with_nan(grad(p)), state, p, value=loss(p))
    assert has_nan(updates) and has_nan(state.inner_state)


# ---------------------------------------------------------------------------------------
# (d) Save and restore: the state is arrays in the structure init builds
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_a_state_saved_as_arrays_and_restored_into_a_fresh_init_resumes_bitwise(name):
    """The leaves written to an ``.npz`` file and read back into the tree structure of a
    fresh ``init`` (what a checkpoint restore into an abstract target does) continue
    exactly as the state never saved."""
    import io

    opt = build(name)
    # Op by op, not jitted: each primitive compiles once for all cases, and a restored leaf
    # whose dtype or weak type differs from init's changes the arithmetic here as in jit.
    step = step_fn(opt)
    p, state = params(), opt.init(params())
    for _ in range(2):
        p, state = step(p, state)
    leaves = jax.tree.leaves(state)
    keys = [
        isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
        for x in leaves
    ]
    data = [
        np.asarray(jax.random.key_data(x)) if k else np.asarray(x)
        for x, k in zip(leaves, keys, strict=True)
    ]
    kinds = [(x.dtype.name, x.shape) for x in data]  # .npz keeps bytes, not bfloat16
    buffer = io.BytesIO()
    np.savez(buffer, *(np.ascontiguousarray(x).view(np.uint8) for x in data))
    buffer.seek(0)
    with np.load(buffer) as saved:
        loaded = [
            saved[f"arr_{i}"].view(jnp.dtype(dtype)).reshape(shape)
            for i, (dtype, shape) in enumerate(kinds)
        ]
    restored = [
        jax.random.wrap_key_data(x) if k else jnp.asarray(x)
        for x, k in zip(loaded, keys, strict=True)
    ]
    treedef = jax.tree.structure(opt.init(params()))
    resumed = jax.tree.unflatten(treedef, restored)
    straight, again = step(p, state), step(p, resumed)
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(again), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
