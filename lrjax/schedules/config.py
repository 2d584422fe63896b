"""Schedules as configuration: plain dicts (JSON) and back, as Keras' ``get_config`` /
``from_config``.

``to_config(schedule)`` gives ``{"class": name, field: value, ...}``. Nested schedules are
nested dicts; a list stays a list and a tuple becomes ``{"tuple": [...]}`` (they are
different pytrees); a Python number stays a number. An array
becomes ``{"array": values, "dtype": name}``, so that a float32 hyperparameter comes back
float32. A function (``from_fn``'s, a ``LambdaLR``'s) becomes ``{"function":
"module:name"}``, and only a module-level function can be written so. A PRNG key becomes
``{"key": key data}``. The class is named as it is exported from `lrjax.schedules`, or
by ``module.QualName`` for a class defined elsewhere in lrjax (the schedules the compat
modules build).

``from_config(config)`` calls the class with those fields, so a configuration written by
hand is validated like any constructor call. ``from_config(to_config(s))`` has the same
tree structure and leaves as ``s`` (equal values and dtypes), and it traces, vmaps and
jits as ``s`` does.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from lrjax.schedules.base import Schedule


def to_config(schedule: Schedule) -> dict[str, Any]:
    """``schedule`` as a plain dict of JSON values (see the module docstring); a
    `ValueError` names a field that cannot be written (a lambda, a traced value)."""
    if not isinstance(schedule, Schedule):
        raise TypeError(f"to_config takes a schedule, got {type(schedule).__name__}")
    out: dict[str, Any] = {"class": _class_name(type(schedule))}
    for field in dataclasses.fields(schedule):
        out[field.name] = _encode(
            getattr(schedule, field.name), f"{type(schedule).__name__}.{field.name}"
        )
    return out


def from_config(config: Mapping[str, Any]) -> Schedule:
    """The schedule a `to_config` dict (or a hand-written one) describes."""
    if not isinstance(config, Mapping) or "class" not in config:
        raise ValueError(f"a schedule's configuration is a dict with a 'class', got {config!r}")
    cls = _class(config["class"])
    fields = {k: _decode(v) for k, v in config.items() if k != "class"}
    try:
        return cls(**fields)
    except TypeError as e:
        raise ValueError(f"schedule {config['class']!r}: {e}") from None


def to_json(schedule: Schedule) -> str:
    """`to_config` as a JSON string."""
    return json.dumps(to_config(schedule))


def from_json(text: str) -> Schedule:
    """`from_config` of a JSON string."""
    return from_config(json.loads(text))


def _class_name(cls: type) -> str:
    import lrjax.schedules

    if getattr(lrjax.schedules, cls.__name__, None) is cls:
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _class(name: Any) -> type:
    import lrjax.schedules

    if not isinstance(name, str):
        raise ValueError(f"a schedule's class is a name, got {name!r}")
    if "." not in name:
        cls = getattr(lrjax.schedules, name, None)
    else:
        module, _, attr = name.rpartition(".")
        if not module.startswith("lrjax."):
            raise ValueError(f"schedule class {name!r} is not one of lrjax's")
        cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Schedule)):
        raise ValueError(f"unknown schedule class {name!r}")
    return cls


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, Schedule):
        return to_config(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):  # kept apart: a tuple is another pytree than a list
        return {"tuple": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, where) for k, v in value.items()}
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{where} is traced; write a configuration from concrete values")
    if hasattr(value, "dtype") and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        return {"key": np.asarray(jax.random.key_data(value)).tolist()}
    if hasattr(value, "dtype"):
        array = np.asarray(value)
        return {"array": array.tolist(), "dtype": array.dtype.name}
    if callable(value):
        module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
        if module is None or "<" in name or "." in name:
            raise ValueError(
                f"{where} is {value!r}: only a module-level function can be written as "
                f"configuration (by its name), not a lambda or a nested function"
            )
        return {"function": f"{module}:{name}"}
    raise ValueError(f"{where} holds {value!r}, which a configuration cannot hold")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    if "class" in value:
        return from_config(value)
    if set(value) == {"tuple"}:
        return tuple(_decode(v) for v in value["tuple"])
    if set(value) == {"array", "dtype"}:
        return jax.numpy.asarray(np.asarray(value["array"], dtype=value["dtype"]))
    if set(value) == {"key"}:
        return jax.random.wrap_key_data(np.asarray(value["key"], np.uint32))
    if set(value) == {"function"}:
        module, _, name = str(value["function"]).partition(":")
        return getattr(importlib.import_module(module), name)
    return {k: _decode(v) for k, v in value.items()}
