"""Frozen dataclasses registered as pytrees: numeric fields are leaves, `static()` ones
are structure. The base of schedules and of the small stateful controllers."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from typing_extensions import dataclass_transform

_INT32 = np.iinfo(np.int32)


def copy_arrays(x: Any) -> Any:
    """`x` with every NumPy array in it (also inside lists, tuples and dicts) copied.

    Schedules and optimizers are values: ``lr = np.array(0.1); s = StepLR(lr, 30);
    lr *= 0.1`` must not change ``s``. JAX arrays are immutable and kept as they are.
    """
    if isinstance(x, np.ndarray):
        return x.copy()
    if type(x) in (list, tuple):
        return type(x)(copy_arrays(v) for v in x)
    if type(x) is dict:
        return {k: copy_arrays(v) for k, v in x.items()}
    return x


def copies_arrays(fn: Callable) -> Callable:
    """Decorate a constructor so that the NumPy arrays it is given are copied first."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        args = tuple(copy_arrays(a) for a in args)
        return fn(*args, **{k: copy_arrays(v) for k, v in kwargs.items()})

    return wrapper


def _wide(x: Any) -> Any:
    """A Python int beyond int32 as a float when 64-bit types are off.

    JAX would refuse it (OverflowError) when the schedule is evaluated; as a float it
    keeps its value to 7 digits in float32, and exactly to 2**53 under x64, where
    ints stay ints.
    """
    if jax.config.jax_enable_x64:
        return x
    if isinstance(x, int) and not isinstance(x, bool) and not _INT32.min <= x <= _INT32.max:
        return float(x)
    if type(x) in (list, tuple) and any(_wide(v) is not v for v in x):
        return type(x)(float(v) if isinstance(v, int) else v for v in x)
    return x


def static(default: Any = dataclasses.MISSING) -> Any:
    """A field that is part of the pytree structure (a mode string, a flag, a callable).

    Static fields are compared and hashed by `jit`, so changing one recompiles; numeric
    hyperparameters are ordinary fields (pytree leaves) and never do.
    """
    return dataclasses.field(default=default, metadata={"static": True})


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, static))
class Pytree:
    """Subclasses become frozen dataclasses registered as pytrees with keyed paths.

    Ordinary fields are leaves, so any numeric hyperparameter may be a traced array.
    Unflattening bypasses ``__init__``: jit, vmap and tree maps with placeholder leaves
    neither validate nor convert.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, eq=False)(cls)
        fields = dataclasses.fields(cls)
        data = tuple(f.name for f in fields if not f.metadata.get("static"))
        meta = tuple(f.name for f in fields if f.metadata.get("static"))

        def flatten_with_keys(s):
            children = [(jax.tree_util.GetAttrKey(n), getattr(s, n)) for n in data]
            return children, tuple(getattr(s, n) for n in meta)

        def flatten(s):
            return [getattr(s, n) for n in data], tuple(getattr(s, n) for n in meta)

        def unflatten(aux, children):
            s = object.__new__(cls)
            for name, value in zip(data, children, strict=True):
                object.__setattr__(s, name, value)
            for name, value in zip(meta, aux, strict=True):
                object.__setattr__(s, name, value)
            return s

        jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)

        constructor = cls.__init__

        @functools.wraps(constructor)
        def __init__(self, *args, **kwargs):
            # Values, not references, and counts JAX can hold, before any validation.
            args = tuple(_wide(copy_arrays(a)) for a in args)
            kwargs = {k: _wide(copy_arrays(v)) for k, v in kwargs.items()}
            constructor(self, *args, **kwargs)

        cls.__init__ = __init__

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated like a new object)."""
        return dataclasses.replace(self, **changes)

    def _derived(self, **changes: Any):
        """A copy with some fields changed and not validated again: a companion (such as
        a cyclic schedule's momentum) that puts this object's checked values in other
        roles, whose own ranges were the peer's to decide."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, **changes)
        return copy
