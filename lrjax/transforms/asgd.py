"""Averaged SGD (torch's ``ASGD``): SGD whose rate decays as a power of the step, with a
running average of the iterates kept in the state for evaluation."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import Hyper, at, check_rate, check_structure, find_states, leafwise


class ASGDState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    eta: jax.Array  # the rate the next update uses (torch's state["eta"])
    mu: jax.Array  # the averaging weight the next update uses (torch's state["mu"])
    learning_rate: jax.Array  # the rate the last update used
    ax: optax.Params  # the average of the iterates (torch's state["ax"])

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    lambd=_checks.NONNEGATIVE,
    alpha=_checks.NONNEGATIVE,
    t0=_checks.NONNEGATIVE,
    weight_decay=_checks.NONNEGATIVE,
)
def asgd(
    learning_rate: Hyper = 1e-2,
    lambd: ArrayLike = 1e-4,
    alpha: ArrayLike = 0.75,
    t0: ArrayLike = 1e6,
    weight_decay: ArrayLike = 0.0,
) -> optax.GradientTransformation:
    """Averaged SGD, torch's single-tensor rule, for update t = 1, 2, ... with rate η
    (η_1 = lr(0)) and averaging weight μ (μ_1 = 1):

        g ← g + weight_decay θ
        θ ← θ (1 - λ η) - η g
        ax ← θ if μ = 1, else ax + μ (θ - ax)
        η ← lr(t-1) / (1 + λ lr(t-1) t)^α,   μ ← 1 / max(1, t - t0)

    so the rate decays as t^-α and the average starts after ``t0`` updates (before it,
    ``ax`` is the last iterate). The update needs ``params``. `asgd_average` reads ax.

    References: Polyak & Juditsky, "Acceleration of stochastic approximation by
    averaging", SIAM J. Control Optim. 1992; Bottou, "Large-scale machine learning with
    stochastic gradient descent", 2010; ``torch.optim.ASGD``.
    """
    check_rate("learning_rate", learning_rate)

    def init(params):
        ax = jax.tree.map(jnp.array, params)  # a copy: its own buffers
        rate = jnp.asarray(at(learning_rate, jnp.zeros([], jnp.int32)), jnp.result_type(float))
        return ASGDState(jnp.zeros([], jnp.int32), rate, jnp.ones([], rate.dtype), rate, ax)

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("asgd needs params: call update(grads, state, params)")
        check_structure(updates, state.ax, "optimizer state (built from the params)")
        t = optax.safe_increment(state.count)
        eta, mu = state.eta, state.mu

        def leaf(g, p, ax):
            dtype = jnp.promote_types(p.dtype, jnp.float32)
            e, m = eta.astype(dtype), mu.astype(dtype)
            x, q = g.astype(dtype), p.astype(dtype)
            x = x + jnp.asarray(weight_decay, dtype) * q
            new = q * (1 - jnp.asarray(lambd, dtype) * e) - e * x
            average = jnp.where(m != 1, ax.astype(dtype) + (new - ax.astype(dtype)) * m, new)
            return (new - q).astype(g.dtype), p, average.astype(ax.dtype)

        out, _, ax = leafwise(leaf, updates, params, state.ax)
        lr = jnp.asarray(at(learning_rate, state.count), eta.dtype)
        steps = t.astype(eta.dtype)
        new_eta = lr / (1 + jnp.asarray(lambd, eta.dtype) * lr * steps) ** jnp.asarray(
            alpha, eta.dtype
        )
        new_mu = 1 / jnp.maximum(1, steps - jnp.asarray(t0, eta.dtype))
        return out, ASGDState(t, new_eta, new_mu, eta, ax)

    return optax.GradientTransformation(init, update)


def asgd_average(state: optax.OptState) -> optax.Params:
    """The iterate average ``ax`` of the `asgd` state found inside ``state``."""
    found = find_states(state, ASGDState)
    if len(found) != 1:
        raise ValueError(f"expected one asgd state inside `state`, found {len(found)}")
    return found[0].ax
