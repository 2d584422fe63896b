"""optax's own contrib tests for the learning-rate-free and plateau methods, ported to
``lrjax.adaptive``.

Peers, all from google-deepmind/optax release 0.2.8 (commit
107e9ad20ca62bcbee1a8c016daab71c690a678c; identical to the files installed with optax
0.2.8): ``optax/contrib/_common_test.py``, ``optax/contrib/_schedule_free_test.py`` and
``optax/contrib/_reduce_on_plateau_test.py``.

Mapping (optax.contrib -> lrjax): ``dadapt_adamw`` -> ``lrjax.adaptive.dadapt_adam(...,
decoupled=True, bias_correction=True)`` (optax always bias-corrects); ``prodigy`` ->
``lrjax.adaptive.prodigy(..., bias_correction=True)``; ``dog`` -> ``lrjax.adaptive.dog``
(``init_step=("heuristic", 1e-6)`` is ``reps_rel=1e-6``); ``schedule_free_sgd`` /
``schedule_free_adamw`` / ``schedule_free`` / ``schedule_free_eval_params`` -> the lrjax
functions of the same names; ``reduce_on_plateau`` -> ``lrjax.reduce_on_plateau``
(``rtol`` is ``threshold``, ``atol=0`` the relative mode); base optimizers ``optax.sgd`` /
``optax.adamw`` -> ``lrjax.sgd`` / ``lrjax.scale_by_adam``.

Beyond the peers: ``test_optimizers`` also runs the complex64 parabola and Rosenbrock of
``optax/_src/alias_test.py`` (targets times 1 + 1j), and the lrjax-only methods in `EXTRA`
(hypergradient, D-Adapt SGD/AdaGrad, LDoG, DoG with iterate averaging, loss-aware
wrappers) go through the peer's tests for its ``_OTHER_OPTIMIZERS_UNDER_TEST`` group, with
settings chosen here. ``test_matches_optax_contrib`` replays optax.contrib's trajectories
where the semantics agree.

Not applicable:
- _common_test.py entries acprop, ademamix, simplified_ademamix, adopt, cocob (both),
  dowg, madgrad, momo, momo_adam, muon, sophia, galore, the mechanize wrapper and every
  ``_OTHER_OPTIMIZERS_UNDER_TEST`` case (all mechanize): lrjax has no such method.
- _schedule_free_test.py test_explicit_dtype: lrjax's schedule_free has no state_dtype.
- _complex_valued_test.py (split_real_and_imaginary), _galore_test.py, _mechanic_test.py,
  _muon_test.py, _privacy_test.py (DP-SGD), _sam_test.py: lrjax has none of these
  methods; there is no reduce_on_plateau/prodigy/dadapt/dog test file in optax 0.2.8.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.adaptive import (
    PlateauState,
    ReduceOnPlateauState,
    adam_hd,
    averaged_params,
    dadapt_adagrad,
    dadapt_adam,
    dadapt_sgd,
    dog,
    polynomial_average,
    prodigy,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
    sgd_hd,
)


class Entry(NamedTuple):
    """One optimizer under test: ``factory(**kwargs)``, optionally wrapped."""

    factory: Any
    kwargs: dict
    wrapper: Any = None  # called on the optimizer (the peer's wrap step)
    value: bool = False  # update needs value=loss
    evaluate: Any = None  # (state, params) -> the params to check (averaged iterates)


def _with_plateau(opt):
    return optax.chain(opt, lrjax.reduce_on_plateau())


# The peer's _MAIN_OPTIMIZERS_UNDER_TEST that lrjax has, with optax's values.
MAIN = {
    "dadapt_adamw": Entry(
        dadapt_adam, {"learning_rate": 1e-1, "decoupled": True, "bias_correction": True}
    ),
    "dog": Entry(dog, {"learning_rate": 1.0}),
    "prodigy": Entry(prodigy, {"learning_rate": 1e-1, "bias_correction": True}),
    "schedule_free_sgd": Entry(
        schedule_free_sgd,
        {"learning_rate": 1e-2, "warmup_steps": 5000},
        evaluate=lrjax.schedule_free_eval_params,
    ),
    "schedule_free_adamw": Entry(
        schedule_free_adamw,
        {"learning_rate": 1e-2, "warmup_steps": 5000},
        evaluate=lrjax.schedule_free_eval_params,
    ),
    # The peer wraps sgd(1e-2) in schedule_free(..., learning_rate=1e-2).
    # lrjax differs: schedule_free wraps a direction without a rate and applies its own
    # learning_rate (its docstring), so the base is the identity direction of SGD.
    "sgd_schedule_free": Entry(
        functools.partial(schedule_free, optax.identity()),
        {"learning_rate": 1e-2},
        evaluate=lrjax.schedule_free_eval_params,
    ),
    "sgd_reduce_on_plateau": Entry(
        lrjax.sgd, {"learning_rate": 1e-3}, wrapper=_with_plateau, value=True
    ),
}
# For the wrapper entries the peer's opt_name (the unwrapped factory) is sgd.
BASES = {"sgd_schedule_free": {"learning_rate": 1e-2}, "sgd_reduce_on_plateau": {}}


def _polynomial_dog():
    return polynomial_average(dog())


def _averaged(state, params):
    del params
    return averaged_params(state)


# lrjax-only methods (settings chosen to converge on the float32 problems).
EXTRA = {
    "sgd_hd": Entry(sgd_hd, {"learning_rate": 1e-3, "hypergrad_lr": 1e-6, "momentum": 0.9}),
    "adam_hd": Entry(adam_hd, {"learning_rate": 1e-1, "hypergrad_lr": 1e-8}),
    # SGD's rate must stay below ~1/curvature on Rosenbrock: D-Adapt SGD at lr 0.1 or 1
    # diverges there, so the growth of d is capped.
    "dadapt_sgd": Entry(dadapt_sgd, {"learning_rate": 1e-2, "momentum": 0.9, "growth_rate": 1.01}),
    "dadapt_adagrad": Entry(dadapt_adagrad, {"learning_rate": 1.0}),
    "ldog": Entry(dog, {"layerwise": True}),
    "dog_averaged": Entry(_polynomial_dog, {}, evaluate=_averaged),
    # Fed the loss of every step, the default patience (10) stops Adam before it arrives.
    "adam_reduce_on_plateau": Entry(
        lrjax.adam,
        {"learning_rate": 1e-1},
        wrapper=lambda opt: optax.chain(opt, lrjax.reduce_on_plateau(patience=100, min_scale=0.01)),
        value=True,
    ),
    "adam_scale_by_loss": Entry(
        lrjax.adam,
        {"learning_rate": 1e-1},
        wrapper=lambda opt: optax.chain(opt, lrjax.scale_by_loss(1.0)),
        value=True,
    ),
    "adam_gradient_stall": Entry(
        lrjax.adam,
        {"learning_rate": 1e-1},
        wrapper=lambda opt: optax.chain(opt, lrjax.decay_on_gradient_stall()),
    ),
}
ALL = {**MAIN, **EXTRA}


def _make(name, wrap=True):
    entry = ALL[name]
    opt = entry.factory(**entry.kwargs)
    return entry.wrapper(opt) if wrap and entry.wrapper is not None else opt


def _kwargs(name, value):
    return {"value": value} if ALL[name].value else {}


def _abs_sq(x):
    return jnp.real(x * jnp.conj(x))


def _setup_parabola(dtype):
    initial = jnp.array([-1.0, 10.0, 1.0], dtype=dtype)
    final = jnp.array([1.0, -1.0, 1.0], dtype=dtype)
    if jnp.iscomplexobj(initial):
        final = final * (1 + 1j)  # alias_test's complex variant

    def obj_fn(params):
        return jnp.sum(_abs_sq(params - final))

    return initial, final, obj_fn


def _setup_rosenbrock(dtype):
    a, b = 1.0, 100.0
    if jnp.issubdtype(dtype, jnp.complexfloating):
        a *= 1 + 1j  # alias_test's complex variant
    initial = jnp.array([0.0, 0.0], dtype=dtype)
    final = jnp.array([a, a**2], dtype=dtype)

    def obj_fn(params):
        return _abs_sq(a - params[0]) + b * _abs_sq(params[1] - params[0] ** 2)

    return initial, final, obj_fn


def _setup_matrix_parabola(dtype):
    initial = jnp.zeros((2, 2), dtype=dtype)
    final = jnp.array([[3.0, -2.0], [1.0, 4.0]], dtype=dtype)

    def obj_fn(params):
        return jnp.sum(_abs_sq(params - final))

    return initial, final, obj_fn


def _setup_mixed_tensor_target(dtype):
    final_1d = jnp.array([1.0, -1.0, 2.0], dtype=dtype)
    final_2d = jnp.array([[1.0, 0.0], [-1.0, 1.0]], dtype=dtype)

    def obj_fn(params):
        p1, p2 = params
        return jnp.sum(_abs_sq(p1 - final_1d)) + jnp.sum(_abs_sq(p2 - final_2d))

    initial = (jnp.zeros((3,), dtype=dtype), jnp.zeros((2, 2), dtype=dtype))
    return initial, (final_1d, final_2d), obj_fn


TARGETS = {
    "parabola": _setup_parabola,
    "rosenbrock": _setup_rosenbrock,
    "matrix_parabola": _setup_matrix_parabola,
    "mixed_tensor_target": _setup_mixed_tensor_target,
}
# The peer's float32 cases, then the complex64 extension.
PROBLEMS = [(t, "float32") for t in TARGETS] + [
    ("parabola", "complex64"),
    ("rosenbrock", "complex64"),
]
# The lrjax-only methods run on the parabola and Rosenbrock, real and complex.
EXTRA_PROBLEMS = [(t, d) for t in ("parabola", "rosenbrock") for d in ("float32", "complex64")]


def _problems(name):
    return PROBLEMS if name in MAIN else EXTRA_PROBLEMS


def _grad(obj_fn, params):
    # Conjugated for complex leaves, as alias_test does (a no-op for real ones).
    value, grads = jax.value_and_grad(obj_fn)(params)
    return value, jax.tree.map(jnp.conj, grads)


def _signature(fn, *args):
    """What jit caches a call on: tree structure and each leaf's shape, dtype and weak
    type (traced, not compiled)."""
    leaves, treedef = jax.tree.flatten(jax.eval_shape(fn, *args))
    return treedef, [(x.shape, x.dtype, x.weak_type) for x in leaves]


def _same(tree):
    return tree


def _assert_trees_close(actual, desired, **tol):
    assert jax.tree.structure(actual) == jax.tree.structure(desired)
    for a, d in zip(jax.tree.leaves(actual), jax.tree.leaves(desired), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(d), **tol)


@pytest.mark.parametrize("wrap", [True, False])
@pytest.mark.parametrize("name", list(ALL))
def test_optimizers_accept_extra_args(name, wrap):
    opt = _make(name, wrap)  # not wrapped in optax.with_extra_args_support
    initial, _, objective = _setup_rosenbrock(jnp.float32)

    def step(params, state):
        value, grads = _grad(objective, params)
        kwargs = {"unexpected_extra_args_your_optimizer_doesnt_expect": 1}
        if ALL[name].value:  # the peer passes value= to every sgd-based entry
            kwargs["value"] = value
        updates, state = opt.update(grads, state, params, **kwargs)
        return optax.apply_updates(params, updates), state

    params, state = initial, opt.init(initial)
    for _ in range(2):
        params, state = step(params, state)
    assert np.all(np.isfinite(params))
    # No recompilation on the second call: one step keeps the state's jit cache key.
    state0 = opt.init(initial)
    assert _signature(lambda s: step(initial, s)[1], state0) == _signature(_same, state0)


@functools.cache
def _solve(name, steps=30_000):
    """The peer's 30 000 steps on every problem, in one compiled scan (independent
    params and states per problem, so the same as the peer's separate runs)."""
    opt, entry = _make(name), ALL[name]
    setups = [TARGETS[t](jnp.dtype(d)) for t, d in _problems(name)]

    def body(carry, _):
        out = []
        for (params, state), (_, _, obj_fn) in zip(carry, setups, strict=True):
            value, grads = _grad(obj_fn, params)
            updates, state = opt.update(grads, state, params, **_kwargs(name, value))
            out.append((optax.apply_updates(params, updates), state))
        return tuple(out), None

    start = tuple((p0, opt.init(p0)) for p0, _, _ in setups)
    end, _ = jax.jit(lambda c: jax.lax.scan(body, c, length=steps))(start)
    results = {}
    for problem, (params, state), (_, final, _) in zip(_problems(name), end, setups, strict=True):
        if entry.evaluate is not None:
            params = entry.evaluate(state, params)
        results[problem] = (params, final)
    return results


@pytest.mark.parametrize(
    ("name", "target", "dtype"), [(n, t, d) for n in ALL for t, d in _problems(n)]
)
def test_optimizers(name, target, dtype):
    opt = _make(name)
    initial, _, _ = TARGETS[target](jnp.dtype(dtype))
    state = opt.init(initial)
    # tree_map_params: a no-op map over the param-shaped leaves keeps the state.
    mapped = optax.tree.map_params(opt, lambda v: v, state)
    assert _signature(_same, mapped) == _signature(_same, state)

    params, final = _solve(name)[(target, dtype)]
    assert jax.tree.map(lambda x: x.dtype, params) == jax.tree.map(lambda x: x.dtype, initial)
    _assert_trees_close(params, final, rtol=3e-2, atol=3e-2)


def _injected(name):
    """(plain optimizer, the same built by optax.inject_hyperparams)."""
    entry = MAIN[name]
    opt = _make(name)
    inject = optax.inject_hyperparams(entry.factory)(**entry.kwargs)
    # warmup_steps stays injectable: lrjax's schedule-free methods accept a traced one.
    return opt, inject


def _first_update(opt, params, grads, kwargs):
    """``opt.update`` from ``opt.init``, jitted as the peer does, in one program."""
    return jax.jit(lambda p, g: opt.update(g, opt.init(p), p, **kwargs))(params, grads)


@pytest.mark.parametrize("name", list(MAIN))
def test_optimizers_can_be_wrapped_in_inject_hyperparams(name):
    if name == "sgd_reduce_on_plateau":
        pytest.skip("the peer skips reduce_on_plateau (not supported by inject_hyperparams)")
    opt, opt_inject = _injected(name)
    params = [jnp.negative(jnp.ones((2, 3))), jnp.ones((2, 5, 2))]
    grads = [jnp.ones((2, 3)), jnp.negative(jnp.ones((2, 5, 2)))]
    updates, new_state = _first_update(opt, params, grads, {})
    updates_inject, new_state_inject = _first_update(opt_inject, params, grads, {})
    _assert_trees_close(updates_inject, updates, rtol=1e-5)
    _assert_trees_close(new_state_inject.inner_state, new_state, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("name", list(MAIN))
def test_preserve_dtype(name, dtype):
    opt = _make(name)
    params = jnp.array([1.0, 2.0], dtype=jnp.dtype(dtype))
    value, grads = jax.value_and_grad(lambda x: jnp.sum(x**2))(params)
    updates, _ = _first_update(opt, params, grads, _kwargs(name, value))
    assert updates.dtype == params.dtype


@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("name", list(MAIN))
def test_gradient_accumulation(name, dtype):
    opt = optax.MultiSteps(optax.with_extra_args_support(_make(name)), every_k_schedule=4)
    params = jnp.array([1.0, 2.0], dtype=jnp.dtype(dtype))
    value, grads = jax.value_and_grad(lambda x: jnp.sum(x**2))(params)
    updates, _ = _first_update(opt, params, grads, _kwargs(name, value))
    np.testing.assert_array_equal(updates, jnp.zeros_like(grads))
    assert updates.dtype == grads.dtype


SHARD_DTYPES = {
    "float16": jnp.float16,
    "bfloat16": jnp.bfloat16,
    "float32": jnp.float32,
    "float64": jnp.float64,
}


@pytest.mark.parametrize("dtype", list(SHARD_DTYPES))
@pytest.mark.parametrize("name", list(ALL))
def test_state_shape_dtype_shard_stability(name, dtype):
    with jax.enable_x64(dtype == "float64"):
        dtype = SHARD_DTYPES[dtype]
        # The peer builds its entries unwrapped here; the lrjax-only wrappers are the
        # point of their entries, so those are checked wrapped.
        wrap = name in EXTRA
        opt = _make(name, wrap=wrap)
        initial, _, objective = _setup_parabola(dtype)
        needs_value = ALL[name].value and (wrap or ALL[name].wrapper is None)

        def step(params, state):
            value, grads = _grad(objective, params)
            # A value of another dtype, as the peer ("confuse dtype intentionally").
            value = value.astype(jnp.float16 if dtype != jnp.float16 else jnp.bfloat16)
            kwargs = {"value": value} if needs_value else {}
            # lax.cond needs both branches to return the same types: a state whose
            # dtypes drift after an update fails at trace time.
            cond = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
            updates, state = jax.lax.cond(
                cond, lambda: opt.update(grads, state, params, **kwargs), lambda: (params, state)
            )
            return optax.apply_updates(params, updates), state

        def two_steps(params, state):
            for _ in range(2):
                params, new_state = step(params, state)
                cond = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
                state = jax.lax.cond(cond, lambda s=state: s, lambda n=new_state: n)
            return params

        params = jax.eval_shape(two_steps, initial, opt.init(initial))
        assert params.dtype == dtype


@pytest.mark.parametrize("name", list(MAIN))
def test_optimizers_accept_learning_rate_schedule_if_type_annotated_as_such(name):
    initial, _, obj_fn = _setup_parabola(jnp.float32)
    if name in BASES:  # the peer uses the unwrapped factory: sgd
        factory, kwargs = lrjax.sgd, {"learning_rate": MAIN[name].kwargs["learning_rate"]}
    else:
        factory, kwargs = MAIN[name].factory, MAIN[name].kwargs
    annotation = inspect.signature(factory, eval_str=True).parameters["learning_rate"]
    # lrjax annotates schedule-accepting rates with its Hyper (number or schedule).
    assert annotation.annotation == lrjax.transforms.Hyper
    opt_with_schedule = factory(**{**kwargs, "learning_rate": optax.constant_schedule(1e-3)})
    opt_with_lr = factory(**{**kwargs, "learning_rate": 1e-3})

    def run(opt):
        params, state = initial, opt.init(initial)
        for _ in range(10):
            value, grads = jax.value_and_grad(obj_fn)(params)
            updates, state = opt.update(grads, state, params, **_kwargs(name, value))
            params = optax.apply_updates(params, updates)
        return params

    np.testing.assert_allclose(run(opt_with_schedule), run(opt_with_lr), rtol=1e-6)


# _schedule_free_test.py


def _sf_parabola():
    initial = jnp.array([-1.0, 10.0, 1.0])
    final = jnp.array([1.0, -1.0, 1.0])
    return initial, jax.grad(lambda p: jnp.sum(_abs_sq(p - final)))


def _run(opt, params, fun, steps=5):
    state = opt.init(params)
    for _ in range(steps):
        updates, state = opt.update(jax.grad(fun)(params), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def test_learning_rate_zero():
    # The peer's base is sgd(learning_rate=0.0, momentum=0.0); lrjax's direction carries
    # no rate (see sgd_schedule_free above), so it is the identity.
    opt = schedule_free(optax.identity(), learning_rate=0.0)
    initial = jnp.array([1.0, 2.0])
    params, state = _run(opt, initial, lambda x: jnp.sum(x**2))
    _assert_trees_close(lrjax.schedule_free_eval_params(state, params), initial, rtol=1e-6)


def test_schedule_free_adamw():
    initial = jnp.array([1.0, 2.0])

    def fun(x):
        return jnp.sum(x**2)

    shortcut = schedule_free_adamw(learning_rate=1.0, b1=0.9, weight_decay=1e-4)
    # The peer's wrapper around adamw(1.0, b1=0.0, weight_decay=1e-4): in lrjax the
    # direction is Adam's scaling with b1 = 0 and the decay is the wrapper's argument.
    wrapper = schedule_free(
        lrjax.scale_by_adam(b1=0.0), learning_rate=1.0, b1=0.9, weight_decay=1e-4
    )
    params_shortcut, _ = _run(shortcut, initial, fun)
    params_wrapper, _ = _run(wrapper, initial, fun)
    _assert_trees_close(params_shortcut, params_wrapper, atol=1e-6, rtol=1e-6)


def test_scalar_preservance():
    opt = schedule_free(optax.identity(), learning_rate=1.0)
    params = jnp.ones((), dtype=jnp.float32)
    eval_params = lrjax.schedule_free_eval_params(opt.init(params), params)
    assert eval_params.shape == params.shape
    assert eval_params.dtype == params.dtype


def test_buffer_donation():
    opt = schedule_free_sgd()
    initial, get_updates = _sf_parabola()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, state):
        updates, state = opt.update(get_updates(params), state, params)
        return optax.apply_updates(params, updates), state

    state = opt.init(initial)
    params, state = step(initial, state)
    assert np.all(np.isfinite(params))


# _reduce_on_plateau_test.py

PATIENCE = 5
COOLDOWN = 5
UPDATES = {"params": jnp.array(1.0)}  # dummy updates


def _plateau():
    """The peer's transform, with its update jitted once (the tests call it often)."""
    transform = lrjax.reduce_on_plateau(
        factor=0.1,
        patience=PATIENCE,
        threshold=1e-4,  # optax's rtol, with atol=0.0: the relative threshold mode
        cooldown=COOLDOWN,
        accumulation_size=1,
        min_scale=0.01,
    )
    return transform._replace(update=jax.jit(transform.update))


def _state(best, plateau_count, scale, cooldown_count):
    """The state the peer builds by hand, in lrjax's layout."""
    dtype = jnp.result_type(float)
    plateau = PlateauState(
        best=jnp.asarray(best, dtype),
        num_bad=jnp.asarray(plateau_count, jnp.int32),
        cooldown=jnp.asarray(cooldown_count, jnp.int32),
        lr=jnp.asarray(scale, dtype),
        count=jnp.asarray(0, jnp.int32),
    )
    return ReduceOnPlateauState(plateau, jnp.zeros([], dtype), jnp.asarray(0, jnp.int32))


def _fields(state):
    p = state.plateau
    return float(p.lr), float(p.best), int(p.num_bad), int(p.cooldown)


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_reduced_after_cooldown_period_is_over(enable_x64):
    with jax.enable_x64(enable_x64):
        transform = _plateau()
        state = transform.init(UPDATES["params"])
        value = jnp.asarray(1.0, dtype=float)
        for _ in range(PATIENCE + 1):
            updates, state = transform.update(updates=UPDATES, state=state, value=value)
        # lrjax differs: the first reduction comes after patience + 1 non-improving values
        # (torch's ReduceLROnPlateau, the ReduceOnPlateau docstring); optax reduces after
        # patience. After the peer's patience + 1 updates lrjax has not reduced yet...
        np.testing.assert_allclose(_fields(state), (1.0, 1.0, PATIENCE, 0))
        # ...and one more update gives the peer's expected state.
        updates, state = transform.update(updates=UPDATES, state=state, value=value)
        np.testing.assert_allclose(_fields(state), (0.1, 1.0, 0, COOLDOWN), rtol=1e-6)
        _assert_trees_close(updates, {"params": jnp.array(0.1)}, rtol=1e-6)

        _, state = transform.update(updates=updates, state=state, value=value)
        np.testing.assert_allclose(_fields(state), (0.1, 1.0, 0, COOLDOWN - 1), rtol=1e-6)


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_is_not_reduced(enable_x64):
    with jax.enable_x64(enable_x64):
        state = _state(best=1.0, plateau_count=3, scale=0.1, cooldown_count=0)
        _, new_state = _plateau().update(
            updates=UPDATES, state=state, value=jnp.asarray(0.1, float)
        )
        scale, best, plateau_count, _ = _fields(new_state)
        assert plateau_count == 0
        np.testing.assert_allclose((scale, best), (0.1, 0.1), rtol=1e-6)


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_not_reduced_during_cooldown(enable_x64):
    with jax.enable_x64(enable_x64):
        state = _state(best=1.0, plateau_count=0, scale=0.1, cooldown_count=3)
        _, new_state = _plateau().update(
            updates=UPDATES, state=state, value=jnp.asarray(2.0, dtype=float)
        )
        np.testing.assert_allclose(_fields(new_state), (0.1, 1.0, 0, 2), rtol=1e-6)


@pytest.mark.parametrize("enable_x64", [False, True])
def test_learning_rate_not_reduced_after_end_scale_is_reached(enable_x64):
    with jax.enable_x64(enable_x64):
        transform = _plateau()
        state = _state(best=1.0, plateau_count=0, scale=0.01, cooldown_count=0)
        for _ in range(PATIENCE + 1):
            updates, state = transform.update(updates=UPDATES, state=state, value=0.1)
        # lrjax differs: the reduction attempt comes one value later than optax's (see
        # above), so after the peer's updates the count of bad values is still patience.
        np.testing.assert_allclose(_fields(state), (0.01, 0.1, PATIENCE, 0), rtol=1e-6)
        updates, state = transform.update(updates=UPDATES, state=state, value=0.1)
        np.testing.assert_allclose(_fields(state), (0.01, 0.1, 0, COOLDOWN), rtol=1e-6)
        _assert_trees_close(updates, {"params": jnp.array(0.01)}, rtol=1e-6)


# Beyond the peers: optax.contrib's trajectories, where the semantics agree (no warmup
# for schedule-free: optax's base optimizer counts from 0 and its weights from 1).
TWINS = {
    "prodigy": (
        lambda: optax.contrib.prodigy(1e-1),
        lambda: prodigy(1e-1, bias_correction=True),
    ),
    "dadapt_adamw": (
        lambda: optax.contrib.dadapt_adamw(1e-1, weight_decay=1e-2),
        lambda: dadapt_adam(1e-1, decoupled=True, bias_correction=True, weight_decay=1e-2),
    ),
    "dog": (lambda: optax.contrib.dog(1.0), lambda: dog(1.0)),
    "schedule_free_sgd": (
        lambda: optax.contrib.schedule_free_sgd(1e-2),
        lambda: schedule_free_sgd(1e-2),
    ),
    "schedule_free_adamw": (
        lambda: optax.contrib.schedule_free_adamw(1e-2, weight_decay=1e-2),
        lambda: schedule_free_adamw(1e-2, weight_decay=1e-2),
    ),
}
# optax's prodigy and dadapt_adamw square complex gradients as g * g, so only these
# agree on complex leaves.
COMPLEX_TWINS = ("dog", "schedule_free_sgd", "schedule_free_adamw")


def _trajectory(opt, params, obj_fn, steps):
    def step(carry, _):
        p, state = carry
        _, g = _grad(obj_fn, p)
        u, state = opt.update(g, state, p)
        return (optax.apply_updates(p, u), state), p

    (final, state), path = jax.lax.scan(step, (params, opt.init(params)), length=steps)
    return path, final, state


@pytest.mark.parametrize("name", list(TWINS))
def test_matches_optax_contrib(name, x64):
    """50 steps give optax.contrib's iterates: on the two-leaf target in float64 (sums over
    the tree), and on Rosenbrock in complex128 where optax handles complex leaves, else
    in float64."""
    rosenbrock_dtype = "complex128" if name in COMPLEX_TWINS else "float64"
    problems = [("mixed_tensor_target", "float64"), ("rosenbrock", rosenbrock_dtype)]
    setups = [TARGETS[t](jnp.dtype(d)) for t, d in problems]
    peer, ours = (make() for make in TWINS[name])

    def both(initials):
        return [
            (_trajectory(peer, p, f, 50), _trajectory(ours, p, f, 50))
            for p, (_, _, f) in zip(initials, setups, strict=True)
        ]

    runs = jax.jit(both)([p0 for p0, _, _ in setups])
    for (want, peer_end, peer_state), (got, our_end, our_state) in runs:
        _assert_trees_close(got, want, rtol=1e-8, atol=1e-10)
        _assert_trees_close(our_end, peer_end, rtol=1e-8, atol=1e-10)
        if name.startswith("schedule_free"):
            x_peer = optax.contrib.schedule_free_eval_params(peer_state, peer_end)
            x_ours = lrjax.schedule_free_eval_params(our_state, our_end)
            _assert_trees_close(x_ours, x_peer, rtol=1e-8, atol=1e-10)
