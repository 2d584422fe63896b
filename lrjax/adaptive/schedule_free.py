"""Schedule-free SGD and AdamW: averaging replaces the learning-rate schedule."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import Hyper, at, check_rate, check_structure, find_states
from lrjax.transforms.rms import scale_by_rms


class ScheduleFreeState(NamedTuple):
    count: jax.Array  # int32 k, updates applied (saturating)
    learning_rate: jax.Array  # γ_k of the last update (warmup included; 0 before any)
    lr_max: jax.Array  # max of the γ so far
    weight_sum: jax.Array  # Σ w_i
    z: optax.Params  # the base iterate
    x: optax.Params  # the averaged iterate: the parameters to evaluate and checkpoint
    inner: optax.OptState  # state of the direction (AdamW's second moment)

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


# The arguments schedule_free and its two ready forms share.
_SCHEDULE_FREE = {
    "learning_rate": _checks.RATE,
    "b1": _checks.real(0, 1, open_low=True, open_high=True),
    "warmup_steps": _checks.integer(0),
    "r": _checks.FINITE,
    "weight_lr_power": _checks.FINITE,
    "weight_decay": _checks.NONNEGATIVE,
}


@copies_arrays
@_checks.arguments(**_SCHEDULE_FREE)
def schedule_free(
    direction: optax.GradientTransformation,
    learning_rate: Hyper,
    b1: ArrayLike = 0.9,
    *,
    warmup_steps: ArrayLike = 0,
    r: ArrayLike = 0.0,
    weight_lr_power: ArrayLike = 2.0,
    weight_decay: ArrayLike = 0.0,
    decay_at_z: bool = False,
) -> optax.GradientTransformation:
    """Schedule-free averaging around a direction u = direction(g), for k = 0, 1, ...:

        γ_k = η_k · min(1, (k + 1) / warmup_steps)        (η_k = learning_rate(k))
        lr_max = max(lr_max, γ_k),   w_k = (k + 1)^r · lr_max^weight_lr_power
        c = w_k / Σ_{i≤k} w_i                              (0 while the sum is 0)
        z ← z - γ_k (u + λ · (z if decay_at_z else y))
        x ← (1 - c) x + c z
        y ← b1 x + (1 - b1) z

    The params the model holds (and where gradients are taken) are y; `eval_params`
    returns x, the iterate to evaluate and checkpoint. z and x start at the initial params.
    x is kept in the state (one extra copy of the params, as the reference's three-sequence
    classes) so evaluation needs no division by b1.

    BatchNorm caveat (from the reference README): running statistics accumulate at y, not
    x; recompute them at x before evaluating (e.g. ~50 training-mode forward passes with
    the x parameters).

    Every numeric argument may be traced (``warmup_steps`` included).

    Reference: Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, "The road less
    scheduled", NeurIPS 2024; facebookresearch/schedule_free 1.4.1.
    """
    check_rate("learning_rate", learning_rate)
    _checks.between("b1", b1, 0.0, 1.0, open_low=True, open_high=True)
    _checks.nonnegative("warmup_steps", warmup_steps)
    _checks.finite("r", r)
    _checks.finite("weight_lr_power", weight_lr_power)
    _checks.nonnegative("weight_decay", weight_decay)
    direction = optax.with_extra_args_support(direction)

    def init(params):
        dtype = jnp.result_type(float)
        zero = lambda: jnp.zeros([], dtype)  # noqa: E731
        copy = lambda: jax.tree.map(jnp.array, params)  # noqa: E731
        # Every leaf its own buffer (not the params' either): params and states may be
        # donated, and a buffer may be donated only once.
        return ScheduleFreeState(
            jnp.zeros([], jnp.int32),
            zero(),
            zero(),
            zero(),
            copy(),
            copy(),
            direction.init(params),
        )

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("schedule_free needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        dtype = state.lr_max.dtype
        k = state.count.astype(dtype)
        warm = jnp.where(warmup_steps > 0, jnp.minimum(1, (k + 1) / warmup_steps), 1)
        gamma = (at(learning_rate, state.count) * warm).astype(dtype)
        lr_max = jnp.maximum(state.lr_max, gamma)
        weight = (k + 1) ** r * lr_max**weight_lr_power
        weight_sum = state.weight_sum + weight
        c = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1), 0)
        u, inner = direction.update(updates, state.inner, params, **extra_args)

        def leaf(y, z, x, g):
            decayed = z if decay_at_z else y
            z_new = z - gamma * (g + weight_decay * decayed)
            x_new = x + c * (z_new - x)
            y_new = b1 * x_new + (1 - b1) * z_new
            return (y_new - y).astype(y.dtype), z_new.astype(z.dtype), x_new.astype(x.dtype)

        out = jax.tree.map(leaf, params, state.z, state.x, u)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], params, out)  # noqa: E731
        new_state = ScheduleFreeState(
            optax.safe_increment(state.count), gamma, lr_max, weight_sum, pick(1), pick(2), inner
        )
        return pick(0), new_state

    return optax.GradientTransformationExtraArgs(init, update)


def eval_params(state: optax.OptState, params: optax.Params) -> optax.Params:
    """The averaged iterate x of the schedule-free state found inside `state`, in the
    structure and dtypes of `params` (the y the model holds).

    Named ``schedule_free_eval_params`` at the package top level, as in optax. With Flax
    NNX, pass ``optimizer.opt_state`` and ``nnx.state(model, nnx.Param)``: the result is
    that state (Param variables) holding x, ready for ``nnx.update(model, ...)``; the
    two trees' variable types differ, so they are matched leaf by leaf.
    """
    found = find_states(state, ScheduleFreeState)
    if len(found) != 1:
        raise ValueError(f"expected one schedule-free state inside `state`, found {len(found)}")
    xs = jax.tree.leaves(found[0].x)
    ps, treedef = jax.tree.flatten(params)
    if len(xs) != len(ps) or any(
        jnp.shape(x) != jnp.shape(p) for x, p in zip(xs, ps, strict=False)
    ):
        raise ValueError(
            f"params must have the shapes of the schedule-free iterate: {len(ps)} leaves "
            f"against its {len(xs)}"
        )
    return jax.tree.unflatten(treedef, [x.astype(p.dtype) for x, p in zip(xs, ps, strict=True)])


@copies_arrays
@_checks.arguments(**_SCHEDULE_FREE)
def schedule_free_sgd(
    learning_rate: Hyper = 1.0,
    b1: ArrayLike = 0.9,
    *,
    warmup_steps: ArrayLike = 0,
    r: ArrayLike = 0.0,
    weight_lr_power: ArrayLike = 2.0,
    weight_decay: ArrayLike = 0.0,
    decay_at_z: bool = False,
) -> optax.GradientTransformation:
    """Schedule-free SGD: `schedule_free` with u = g (weight decay at y, or at z).

    The reference recommends a rate 10-50x a scheduled SGD's; its default 1.0 diverges on
    badly conditioned problems.
    """
    return schedule_free(
        optax.identity(),
        learning_rate,
        b1,
        warmup_steps=warmup_steps,
        r=r,
        weight_lr_power=weight_lr_power,
        weight_decay=weight_decay,
        decay_at_z=decay_at_z,
    )


@copies_arrays
@_checks.arguments(
    **_SCHEDULE_FREE,
    b2=_checks.real(0, 1, open_high=True),
    eps=_checks.NONNEGATIVE,
)
def schedule_free_adamw(
    learning_rate: Hyper = 0.0025,
    b1: ArrayLike = 0.9,
    b2: ArrayLike = 0.999,
    eps: ArrayLike = 1e-8,
    *,
    warmup_steps: ArrayLike = 0,
    r: ArrayLike = 0.0,
    weight_lr_power: ArrayLike = 2.0,
    weight_decay: ArrayLike = 0.0,
    decay_at_z: bool = False,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Schedule-free AdamW: `schedule_free` with u = g / (sqrt(v / (1 - b2^(k+1))) + eps),
    v ← b2 v + (1 - b2) g² (the reference 1.3+ semantics: bias correction in the
    denominator, decay not folded into the rate)."""
    with _checks.renamed(decay="b2"):
        direction = scale_by_rms(b2, eps, bias_correction=True, nu_dtype=nu_dtype)
    return schedule_free(
        direction,
        learning_rate,
        b1,
        warmup_steps=warmup_steps,
        r=r,
        weight_lr_power=weight_lr_power,
        weight_decay=weight_decay,
        decay_at_z=decay_at_z,
    )
