"""Settings in a task's own terms: the space a job sweeps, one member's hyperparameters,
names for integer choices, and the baselines the winner is compared with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax.sweep import space as sp
from lrjax.sweep.result import flat_names
from lrjax.sweep.task import Task


def space_of(task: Task, table: Mapping[str, Any]) -> dict:
    """The task's default space with the config's ``[space]`` entries in place of its
    own (`lrjax.sweep.space.parse` and `merge`), checked: `ValueError` names a bad entry."""
    specs = sp.merge(task.space, sp.parse(table, task.labels))
    sp.dimensions(specs)  # every entry a spec or a number
    return specs


def swept(specs: Mapping[str, Any]) -> dict[str, sp.Spec]:
    """The dimensions that vary, by "/"-joined name (constants left out)."""
    return {k: v for k, v in sp.dimensions(specs).items() if not sp.is_constant(v)}


def member(hparams: Any, i: int) -> Any:
    """Member ``i`` of a population's hyperparameters (nested, arrays of shape (n,)), as
    arrays of shape () of the same dtypes."""
    return jax.tree.map(lambda x: jnp.asarray(np.asarray(x)[i]), hparams)


def unflatten(flat: Mapping[str, Any]) -> dict:
    """Nested dicts from "/"-joined names (`lrjax.sweep.SweepResult.hparams`)."""
    out: dict = {}
    for name, value in flat.items():
        *path, last = name.split("/")
        node = out
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def named(task: Task, values: Mapping[str, Any]) -> dict[str, Any]:
    """One member's flat values with integer choices replaced by the task's names."""
    out = {}
    for name, value in values.items():
        names = task.labels.get(name)
        value = np.asarray(value).item()
        out[name] = names[int(value)] if names is not None else value
    return out


def rows_named(task: Task, hparams: Any) -> list[dict[str, Any]]:
    """One dict per member of a population: its values by flat name, choices named."""
    flat = flat_names(hparams)
    n = len(next(iter(flat.values())))
    return [named(task, {k: v[i] for k, v in flat.items()}) for i in range(n)]


def label(row: Mapping[str, Any], dims: Mapping[str, sp.Spec]) -> str:
    """A short name for a setting: the swept dimensions' values, "adam, cosine, peak=0.01"."""
    parts = []
    for name in dims:
        value = row[name]
        parts.append(value if isinstance(value, str) else f"{name}={value:.3g}")
    return ", ".join(parts)


def baseline(task: Task, specs: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """A baseline's settings (names allowed for choices) as one member's hyperparameters,
    dimensions it does not set taken from the space's constants; `ValueError` when it
    names a dimension the space lacks or leaves a swept one unset."""
    given = sp.parse(values, task.labels, root="baseline")
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ValueError(f"a baseline sets {unknown[0]!r}, which is not in the space")
    filled = {k: given.get(k, v) for k, v in specs.items()}
    unset = [k for k, v in sp.dimensions(filled).items() if not sp.is_constant(v)]
    if unset:
        raise ValueError(f"a baseline does not set {unset[0]!r}, which the space sweeps")
    return member(sp.grid(filled, 1), 0)
