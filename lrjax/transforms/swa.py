"""Stochastic weight averaging: an equal (SWA) or exponential (EMA) average of the iterates
of any optimizer, kept in the state for evaluation, as PyTorch's ``AveragedModel``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import complement, compute_dtype, find_states, lerp

MODES = ("swa", "ema")


class AverageIteratesState(NamedTuple):
    count: jax.Array  # int32 t, updates applied (saturating)
    n_averaged: jax.Array  # int32, iterates in the average (torch's n_averaged)
    average: optax.Params  # the average (the initial params until the first is averaged)
    inner: optax.OptState  # the state of the optimizer whose iterates are averaged


@copies_arrays
@_checks.arguments(decay=_checks.real(0, 1), start=_checks.START, every=_checks.STEPS)
def average_iterates(
    inner: optax.GradientTransformation,
    mode: str = "swa",
    *,
    decay: ArrayLike = 0.999,
    start: ArrayLike = 0,
    every: ArrayLike = 1,
    average_dtype: Any = None,
) -> optax.GradientTransformation:
    """Keep an average of the iterates of `inner` in the state; the updates are `inner`'s,
    unchanged. Read the average with `iterate_average`.

    The iterate after update t = 1, 2, ... is x_t = params + updates. It enters the average
    when t > ``start`` and (t - start) is a multiple of ``every``; with n iterates already
    in the average:

        n = 0:              x̄ ← x_t                               (a copy)
        ``mode="swa"``:     x̄ ← x̄ + (x_t - x̄) / (n + 1)           (the equal average)
        ``mode="ema"``:     x̄ ← x̄ + (1 - decay) (x_t - x̄)         (exponential)

    and n ← n + 1. Before the first, x̄ holds the initial params. This is
    ``torch.optim.swa_utils.AveragedModel.update_parameters``, called after the updates
    that pass the test above: the default averaging function, or
    ``get_ema_multi_avg_fn(decay)`` for ``"ema"``. Torch's SWA loop (``if epoch >
    swa_start: swa_model.update_parameters(model)`` after each epoch of m updates) is
    ``start = m (swa_start + 1)``, ``every = m``; `lrjax.compat.torch.AveragedModel`
    takes torch's arguments.

    ``decay`` (in [0, 1]; only ``"ema"`` reads it), ``start`` and ``every`` may be traced.
    The average is kept in ``average_dtype`` (the params' dtypes when None); the
    arithmetic is in at least float32, so a float32 average of bfloat16 params does not
    lose the small increments of a long SWA.

    Out of scope: torch's ``use_buffers`` (JAX params trees hold no buffers; average a
    batch-norm statistic by putting it in the tree) and ``update_bn`` (recomputing
    batch-norm statistics for the average is a forward pass over data, the user's).
    optax's ``ema`` averages updates, not iterates, and debiases; it is not this.

    Reference: Izmailov et al., "Averaging weights leads to wider optima and better
    generalization", UAI 2018; ``torch.optim.swa_utils.AveragedModel``.

    Examples:
        >>> import jax.numpy as jnp, optax, lrjax
        >>> opt = lrjax.average_iterates(lrjax.sgd(0.1), start=2)
        >>> params = jnp.array([1.0])
        >>> state = opt.init(params)
        >>> for _ in range(4):  # the gradient of x²/2: x_t = 0.9^t
        ...     updates, state = opt.update(params, state, params)
        ...     params = optax.apply_updates(params, updates)
        >>> round(float(lrjax.iterate_average(state)[0]), 6)  # (x_3 + x_4) / 2
        0.69255
    """
    _checks.one_of("mode", mode, MODES)
    inner = optax.with_extra_args_support(inner)

    def init(params):
        def copy(p):
            return jnp.array(p, dtype=average_dtype)  # its own buffer

        count, n_averaged = jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32)  # two buffers
        return AverageIteratesState(
            count, n_averaged, jax.tree.map(copy, params), inner.init(params)
        )

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("average_iterates needs the params: call update(..., params)")
        out, inner_state = inner.update(updates, state.inner, params, **extra_args)
        t = optax.safe_increment(state.count)
        begin = jnp.asarray(start).astype(jnp.int32)
        period = jnp.maximum(jnp.asarray(every).astype(jnp.int32), 1)
        due = (t > begin) & ((t - begin) % period == 0)
        n = state.n_averaged

        def leaf(avg, p, u):
            x = optax.apply_updates(p, u)  # the iterate, in the params' dtype
            dtype = jnp.promote_types(compute_dtype(avg), x.dtype)
            a, x = avg.astype(dtype), x.astype(dtype)
            if mode == "swa":  # torch's get_swa_avg_fn, to the rounding
                step = (x - a) / (n.astype(jnp.finfo(dtype).dtype) + 1)
                new = jnp.where(n == 0, x, a + step)
            else:  # torch's get_ema_multi_avg_fn: lerp(x̄, x, 1 - decay)
                new = jnp.where(n == 0, x, lerp(a, x, complement(decay, jnp.finfo(dtype).dtype)))
            return jnp.where(due, new, a).astype(avg.dtype)

        average = jax.tree.map(leaf, state.average, params, out)
        n = jnp.where(due, optax.safe_increment(n), n)
        return out, AverageIteratesState(t, n, average, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


def iterate_average(state: optax.OptState) -> optax.Params:
    """The average of the iterates kept by the `average_iterates` found inside `state`."""
    found = find_states(state, AverageIteratesState)
    if len(found) != 1:
        raise ValueError(f"expected one average_iterates state inside `state`, found {len(found)}")
    return found[0].average
