"""A member's carry as arrays and structure, so that framework objects can be carried.

A carry may be any pytree: plain dicts and tuples, a Flax Linen ``TrainState``, Flax NNX
modules and ``nnx.Optimizer`` (pytrees since flax 0.12), Equinox modules. The engine
keeps only its **arrays** between compiled programs: ``jax.Array`` and NumPy leaves, and
Python numbers, which become arrays as `jax.lax.scan` makes them (a ``TrainState``'s
``step`` starts as the int 0). Everything else is **structure**: the tree shape, static
fields (a ``TrainState``'s ``apply_fn`` and ``tx``, an ``nnx.Optimizer``'s
transformation), and leaves that are neither (an Equinox module's activation function):
Equinox's partition rule (``eqx.is_array``), with Python numbers counted as arrays.

The structure is never carried from one compiled program to the next: each program
calls the member's ``init(hp)`` under its own trace, keeps that result's structure, and
fills it with the carried arrays (`fill`). An optimizer built from traced
hyperparameters in ``init`` (``TrainState.create(tx=optax.adam(hp["lr"]), ...)``,
``nnx.Optimizer(model, lrjax.adam(hp["lr"]))``) is therefore rebuilt from the traced
``hp`` of the program that uses it, and no tracer leaks between programs (the
UnexpectedTracerError that a carried ``tx`` gives otherwise). The array work of that
``init`` is dead code, which XLA removes.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def is_array(x: Any) -> bool:
    """A leaf the engine carries: a JAX or NumPy array, or a Python number."""
    return isinstance(x, (jax.Array, np.ndarray, np.generic, bool, int, float, complex))


def arrays(tree: Any) -> list:
    """The array leaves of `tree`, in flattening order."""
    return [x for x in jax.tree_util.tree_leaves(tree) if is_array(x)]


def fill(template: Any, values: list, *, where: str = "carry") -> Any:
    """`template` with its array leaves (or `jax.ShapeDtypeStruct` placeholders, from
    `jax.eval_shape`) replaced, in order, by `values`; its other leaves and its structure
    are kept. ``where`` names the carry in the error."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    slots = [i for i, x in enumerate(leaves) if is_array(x) or isinstance(x, jax.ShapeDtypeStruct)]
    if len(slots) != len(values):
        raise ValueError(
            f"{where}: init(hp) gives {len(slots)} arrays but {len(values)} were carried; "
            "the carry's arrays must keep their number and order from step to step"
        )
    for i, value in zip(slots, values, strict=True):
        leaves[i] = value
    return jax.tree_util.tree_unflatten(treedef, leaves)


def arrays_like(template: Any, tree: Any, *, where: str) -> list:
    """The arrays of `tree`, a carry that `step` returned, checked against the number of
    arrays of `template` (``init``'s): a leaf that was None or a string in ``init`` and
    an array after ``step`` would change the carry between steps."""
    values, expected = arrays(tree), len(arrays(template))
    if len(values) != expected:
        raise ValueError(
            f"{where} returned a carry with {len(values)} arrays where init(hp) gives "
            f"{expected}: return the same structure, with an array (or number) wherever "
            "step puts one (init may start it at jnp.zeros(()), not None)"
        )
    return values


def structure(init: Any, hp: Any) -> Any:
    """A template of ``init(hp)``'s carry, for `fill`, without computing it: traced
    abstractly (`jax.eval_shape`), its arrays are placeholders; its other leaves and
    static fields are init's (an optimizer built from traced ``hp`` there closes over a
    placeholder too: rebuild the member with ``init`` to use it)."""
    box = []

    def arrays_of(hp):
        box.append(init(hp))
        return arrays(box[-1])

    jax.eval_shape(arrays_of, hp)
    return box[-1]
