"""Frozen dataclasses registered as pytrees: numeric fields are leaves, `static()` ones
are structure. The base of schedules and of the small stateful controllers."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
from typing_extensions import dataclass_transform


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

    def replace(self, **changes: Any):
        """A copy with some fields changed (validated like a new object)."""
        return dataclasses.replace(self, **changes)
