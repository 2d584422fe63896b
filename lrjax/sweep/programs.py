"""The compiled programs of a sweep: one member's work, vmapped over the population.

Each program is built once per user function and cached (``functools.lru_cache`` on the
function objects), and `jax.jit` compiles it once per shape of its inputs: the
population's size, the carry, the batches. No program depends on a segment's length: a
segment of ``n`` steps runs as `advance` calls of a fixed block of `BLOCK` steps with a
traced count (a `lax.fori_loop` with a dynamic trip count) that index the shared batches
at a traced step, so segments of any length (``eval_every``, the last, shorter segment,
halving's rungs, PBT's intervals) reuse one compiled program, and so does any number of
steps without batches.

Between programs only the carry's arrays travel (see `lrjax.sweep.carry`); each program
rebuilds the carry's structure from ``init(hp)`` under its own trace.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from lrjax.sweep import carry as carries
from lrjax.transforms.applied import find_rate

# Steps per `advance` call: the length of the per-step output buffers. A segment of n
# steps takes ceil(n / BLOCK) calls; the buffers' unused tail costs only memory.
BLOCK = 256


def as_metrics(out: Any, where: str, default: str) -> dict[str, jax.Array]:
    """A step's or evaluation's output as ``{name: scalar}``: a scalar is named
    ``default`` ("loss" for a step, "eval" for an evaluation)."""
    if isinstance(out, dict):
        metrics = dict(out)
    elif hasattr(out, "shape") or isinstance(out, (int, float)):
        metrics = {default: out}
    else:
        raise TypeError(
            f"{where} must return a scalar loss or a dict of scalars, got {type(out).__name__}"
        )
    for name, value in metrics.items():
        if not isinstance(name, str) or jnp.ndim(value) != 0:
            raise ValueError(
                f"{where}: metric {name!r} must be a scalar under a str name, "
                f"got shape {jnp.shape(value)}"
            )
    return {k: jnp.asarray(v) for k, v in metrics.items()}


def _value(x: Any) -> jax.Array:
    """An array out of a rate that may be an NNX variable (``OptArray``)."""
    get = getattr(x, "get_value", None)
    return jnp.asarray(get() if callable(get) else x, jnp.float32).reshape(())


def rates(carry: Any) -> dict[str, jax.Array]:
    """The rate the carry's optimizer applied: ``{"lr": rate}`` for one rate (NaN where
    the carry holds no lrjax state), or ``{"lr": NaN, "group/<label>": rate, ...}`` for
    parameter groups, whose rates are never combined."""
    rate = find_rate(carry)
    nan = jnp.asarray(jnp.nan, jnp.float32)
    if rate is None:
        return {"lr": nan}
    if isinstance(rate, dict):
        flat = jax.tree_util.tree_leaves_with_path(rate, is_leaf=lambda x: not isinstance(x, dict))
        names = {"/".join(str(k.key) for k in path): _value(v) for path, v in flat}
        return {"lr": nan, **{f"group/{k}": v for k, v in names.items()}}
    return {"lr": _value(rate)}


def _index(batches: Any, i: jax.Array) -> Any:
    return jax.tree.map(lambda b: jax.lax.dynamic_index_in_dim(b, i, keepdims=False), batches)


@functools.lru_cache(maxsize=64)
def start(init: Callable) -> Callable:
    """``hp -> arrays`` of every member's first carry."""
    return jax.jit(jax.vmap(lambda hp: carries.arrays(init(hp))))


@functools.lru_cache(maxsize=64)
def advance(init: Callable, step: Callable, batched: bool) -> Callable:
    """``(arrays, hp, batches, first, n) -> (arrays, outputs)``: every member takes steps
    ``first, ..., first + n - 1`` (n <= `BLOCK`), reading ``batches[first + i]`` when
    ``batched``; ``outputs`` holds ``(population, BLOCK)`` buffers of each metric and
    rate, filled up to ``n``. The carry's arrays are donated."""

    def take_step(carry, hp, batches, i):
        out = step(carry, _index(batches, i), hp) if batched else step(carry, hp)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError("step must return (carry, loss) or (carry, {name: scalar})")
        metrics = as_metrics(out[1], "step", "loss")
        reserved = [k for k in metrics if k == "lr" or k.startswith("group/")]
        if reserved:
            raise ValueError(
                f"step: metric {reserved[0]!r} is a name the engine gives the applied "
                "learning rate (lr, group/<label>); rename it"
            )
        return out[0], {**metrics, **rates(out[0])}

    def member(values, hp, batches, first, n):
        template = init(hp)
        # the outputs' names and dtypes; the carry is rebuilt under each trace, since
        # NNX refuses objects from another trace level
        shapes = jax.eval_shape(
            lambda v: take_step(carries.fill(template, v), hp, batches, first)[1], values
        )
        buffers = {k: jnp.zeros((BLOCK,), s.dtype) for k, s in shapes.items()}

        def body(i, state):
            values, buffers = state
            new, out = take_step(carries.fill(template, values), hp, batches, first + i)
            values = carries.arrays_like(template, new, where="step")
            return values, {k: buffers[k].at[i].set(out[k]) for k in buffers}

        return jax.lax.fori_loop(0, n, body, (values, buffers))

    return jax.jit(jax.vmap(member, in_axes=(0, 0, None, None, None)), donate_argnums=0)


@functools.lru_cache(maxsize=64)
def evaluate(init: Callable, evaluate: Callable) -> Callable:
    """``(arrays, hp) -> {name: (population,)}``: every member's evaluation."""

    def member(values, hp):
        carry = carries.fill(init(hp), values)
        return as_metrics(evaluate(carry, hp), "evaluate", "eval")

    return jax.jit(jax.vmap(member))


@functools.lru_cache(maxsize=64)
def whole(train: Callable) -> Callable:
    """``hp -> metrics`` of every member: the whole-program form, ``jit(vmap(train))``."""
    return jax.jit(jax.vmap(train))
