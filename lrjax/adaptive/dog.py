"""DoG and layer-wise DoG (distance over gradients), and the polynomial-decay iterate
averager their authors recommend."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    accepting_extra_args,
    at,
    check_rate,
    check_structure,
    find_states,
    tree_norm,
)


class DoGState(NamedTuple):
    count: jax.Array  # int32 t, steps taken (saturating)
    rbar: Any  # r̄, the largest distance from x0 so far (per leaf for LDoG)
    G: Any  # Σ |g|² + eps (per leaf for LDoG)
    eta: Any  # the step size of the last step (per leaf for LDoG; 0 before any)
    x0: optax.Params

    def applied_lr(self) -> jax.Array:
        """The step size; for LDoG the mean over leaves (a summary for logging)."""
        etas = jax.tree.leaves(self.eta)
        return sum(etas) / len(etas)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, open_low=True, schedule=True),
    reps_rel=_checks.NONNEGATIVE,  # > 0 unless init_eta is given (checked below)
    eps=_checks.POSITIVE,
    weight_decay=_checks.NONNEGATIVE,
    init_eta=_checks.real(0, open_low=True, optional=True),
)
def dog(
    learning_rate: Hyper = 1.0,
    reps_rel: ArrayLike = 1e-6,
    eps: ArrayLike = 1e-8,
    *,
    weight_decay: ArrayLike = 0.0,
    init_eta: ArrayLike | None = None,
    layerwise: bool = False,
) -> optax.GradientTransformation:
    """DoG, for step t = 0, 1, ... (g includes λ x when weight_decay > 0):

        t = 0:   r̄ = reps_rel (1 + |x0|),   G = |g_0|² + eps
        t ≥ 1:   r̄ = max(r̄, |x_t - x0|),   G ← G + |g_t|²
        η_t = c_t r̄ / sqrt(G)            (c_t = learning_rate(t), 1 recommended)
        x_{t+1} = x_t - η_t g_t

    ``init_eta`` replaces the first step size. With ``layerwise`` (LDoG) r̄, G and η are
    kept per leaf; otherwise the norms run over the whole tree. G is a sum of squares and
    overflows to inf for |g| ≳ 1e19 in float32 (as optax's ``contrib.dog``); η is then 0,
    while the distances r̄ are computed so that their squares cannot overflow. The
    authors recommend evaluating a polynomial-decay average of the iterates: see
    `polynomial_average`.

    Reference: Ivgi, Hinder & Carmon, "DoG is SGD's best friend: a parameter-free dynamic
    step size schedule", ICML 2023; formll/dog ``dog.DoG`` and ``dog.LDoG`` 1.0.3.
    """
    check_rate("learning_rate", learning_rate, positive=True)
    if init_eta is None:
        _checks.positive("reps_rel", reps_rel)
    else:
        _checks.positive("init_eta", init_eta)
    _checks.positive("eps", eps)
    _checks.nonnegative("weight_decay", weight_decay)

    def norms_sq(tree):
        squares = jax.tree.map(lambda x: jnp.sum(abs_sq(x)), tree)
        return squares if layerwise else sum(jax.tree.leaves(squares))

    def norms(tree):
        # The distances |x0| and |x - x0| as norms, not roots of `norms_sq`: a distance of
        # 1e27 is finite in float32 but its square is not, and r̄ = inf would make
        # η = r̄ / sqrt(G) = inf / inf = NaN once G overflows too.
        return jax.tree.map(tree_norm, tree) if layerwise else tree_norm(tree)

    def init(params):
        dtype = jnp.result_type(float)

        def zeros():  # own buffers for r̄, G and η: states may be donated
            if layerwise:
                return jax.tree.map(lambda _: jnp.zeros([], dtype), params)
            return jnp.zeros([], dtype)

        return DoGState(
            jnp.zeros([], jnp.int32), zeros(), zeros(), zeros(), jax.tree.map(jnp.array, params)
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("dog needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        g = jax.tree.map(lambda g, x: g + weight_decay * x, updates, params)
        first = state.count == 0
        tree_map = jax.tree.map if layerwise else lambda f, *xs: f(*xs)
        start = tree_map(lambda n: reps_rel * (1 + n), norms(params))
        moved = jax.tree.map(lambda x, x0: x - x0, params, state.x0)
        rbar = tree_map(
            lambda r, s, d: jnp.where(first, s, jnp.maximum(r, d)),
            state.rbar,
            start,
            norms(moved),
        )
        G = tree_map(lambda G, n: jnp.where(first, n + eps, G + n), state.G, norms_sq(g))
        c = at(learning_rate, state.count)
        eta = tree_map(lambda r, G: (c * r / jnp.sqrt(G)).astype(r.dtype), rbar, G)
        if init_eta is not None:
            eta = tree_map(lambda e: jnp.where(first, init_eta, e).astype(e.dtype), eta)
        if layerwise:
            out = jax.tree.map(lambda g, e: (-e * g).astype(g.dtype), g, eta)
        else:
            out = jax.tree.map(lambda g: (-eta * g).astype(g.dtype), g)
        return out, DoGState(optax.safe_increment(state.count), rbar, G, eta, state.x0)

    return accepting_extra_args(init, update)


class PolynomialAverageState(NamedTuple):
    count: jax.Array  # int32 t, iterates averaged (saturating)
    average: optax.Params  # x̄ (the initial params before any step)
    inner: optax.OptState


@copies_arrays
@_checks.arguments(gamma=_checks.NONNEGATIVE)
def polynomial_average(
    inner: optax.GradientTransformation, gamma: ArrayLike = 8.0
) -> optax.GradientTransformation:
    """Keep the polynomial-decay average of the iterates of `inner`:

        x̄_t = (1 - w_t) x̄_{t-1} + w_t x_t,   w_t = (1 + γ) / (t + γ),   t = 1, 2, ...

    so x̄_1 = x_1 and the initial params never enter. Read it with `averaged_params`; the
    updates are those of `inner`, unchanged.

    Reference: Shamir & Zhang, "Stochastic gradient descent for non-smooth optimization",
    ICML 2013; as used by Ivgi et al. 2023 (formll/dog ``PolynomialDecayAverager``).
    """
    _checks.nonnegative("gamma", gamma)
    inner = optax.with_extra_args_support(inner)

    def init(params):
        return PolynomialAverageState(
            jnp.zeros([], jnp.int32), jax.tree.map(jnp.array, params), inner.init(params)
        )

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("polynomial_average needs the params: call update(..., params)")
        out, inner_state = inner.update(updates, state.inner, params, **extra_args)
        t = optax.safe_increment(state.count)
        w = (1 + gamma) / (t.astype(jnp.result_type(float)) + gamma)
        average = jax.tree.map(
            lambda a, x, u: (a * (1 - w) + w * (x + u)).astype(a.dtype),
            state.average,
            params,
            out,
        )
        return out, PolynomialAverageState(t, average, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


def averaged_params(state: optax.OptState) -> optax.Params:
    """The iterate average kept by the `polynomial_average` found inside `state`."""
    found = find_states(state, PolynomialAverageState)
    if len(found) != 1:
        raise ValueError(f"expected one polynomial_average state, found {len(found)}")
    return found[0].average
