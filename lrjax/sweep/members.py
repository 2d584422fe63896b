"""A population of members training on the devices: the step form's engine.

`Members` holds the carries' arrays and the hyperparameters of a (chunk of a) population
on the `Layout`'s devices and moves them forward by any number of steps with the cached
programs of `lrjax.sweep.programs`. `run`, `successive_halving` and `pbt` all drive it;
they differ only in what they do between segments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from lrjax.sweep import carry as carries
from lrjax.sweep import programs
from lrjax.sweep.population import Layout, pad
from lrjax.sweep.result import tail_mean


def leading(name: str, tree: Any, axis: str) -> int:
    """The length of the leading (``axis``) axis that every leaf of ``tree`` shares; a
    `ValueError` naming ``name`` when there is no leaf, a leaf has no leading axis, the
    leaves disagree, or the axis is empty."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise ValueError(f"{name} must hold arrays with a leading {axis} axis, got {tree!r}")
    shapes = [np.shape(x) for x in leaves]
    if any(len(s) == 0 for s in shapes):
        raise ValueError(f"{name}: every leaf needs a leading {axis} axis, got shapes {shapes}")
    sizes = sorted({s[0] for s in shapes})
    if len(sizes) > 1:
        raise ValueError(f"{name}: the leaves' leading {axis} axes differ, got sizes {sizes}")
    if sizes[0] < 1:
        raise ValueError(f"{name}: the leading {axis} axis is empty (length 0)")
    return int(sizes[0])


def count(name: str, value: Any, low: int) -> int:
    """A host-side count (steps, members) as an int: `TypeError` for a value that is not
    an integer at all (2.5, True, "4": a bool is not a count), `ValueError` below
    ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def total_steps(batches: Any, steps: Any) -> int:
    """The number of steps: the batches' leading axis, or ``steps`` without batches."""
    if batches is None:
        if steps is None:
            raise TypeError("pass batches (a pytree with a leading step axis) or steps=N")
        return count("steps", steps, 1)
    n = leading("batches", batches, "step")
    if steps is not None and count("steps", steps, 1) != n:
        raise ValueError(f"steps={steps} but batches hold {n} steps")
    return n


def split_rates(out: dict[str, np.ndarray]) -> tuple[dict, np.ndarray, dict]:
    """A block's outputs as (metrics, lrs, group_lrs)."""
    groups = {k[len("group/") :]: v for k, v in out.items() if k.startswith("group/")}
    metrics = {k: v for k, v in out.items() if k != "lr" and not k.startswith("group/")}
    return metrics, out["lr"], groups


def score_name(score: str | None, metrics: dict, evals: dict) -> str:
    """The metric named `score`, checked; by default "loss" where the step gives it,
    else the only metric of the step and evaluation."""
    names = [*metrics, *evals]
    if score is None:
        if "loss" in metrics or len(names) != 1:
            score = "loss"
        else:
            score = names[0]
    if score not in names:
        raise ValueError(
            f"score {score!r} is neither a metric of step ({sorted(metrics)}) nor of "
            f"evaluate ({sorted(evals)}); name one with score="
        )
    return score


def scores(score: str, metrics: dict[str, np.ndarray], evals: dict[str, np.ndarray]):
    """Each member's score at the end of a segment: its evaluation named `score`, or the
    mean of the segment's last quarter of steps of the per-step metric named `score`."""
    if score in evals:
        return np.asarray(evals[score], np.float64)
    return tail_mean(np.asarray(metrics[score], np.float64))


@functools.lru_cache(maxsize=16)
def _take(sharding: Any) -> Callable:
    """``(values, index) -> values[index]`` on the devices, laid out by `sharding`."""
    return jax.jit(lambda values, index: [v[index] for v in values], out_shardings=sharding)


class Members:
    """Members training on `layout`'s devices: ``hp`` (host arrays, leading population
    axis), and their carries' arrays, started from ``init`` unless ``values`` (host
    arrays, as `host_values` gives them) are given."""

    def __init__(
        self,
        init: Callable,
        step: Callable,
        evaluate: Callable | None,
        layout: Layout,
        hp: Any,
        batches: Any,
        values: list | None = None,
    ):
        self.init, self.layout, self.batches = init, layout, batches
        self._advance = programs.advance(init, step, batches is not None)
        self._evaluate = None if evaluate is None else programs.evaluate(init, evaluate)
        self._place(hp)
        if values is None:  # pinned to the population's sharding, whatever XLA chose
            self.values = jax.device_put(programs.start(init)(self.hp), layout.sharded)
        else:
            self.values = layout.place(pad(values, self.padded))

    def _place(self, hp: Any) -> None:
        self.hp_host = jax.tree.map(np.asarray, hp)
        self.size = leading("hparams", hp, "population")
        self.padded = self.layout.padded(self.size)
        self.hp = self.layout.place(pad(self.hp_host, self.padded))

    def advance(self, first: int, n: int) -> dict[str, np.ndarray]:
        """Every member takes steps ``first .. first + n - 1``; their per-step outputs
        (metrics, ``"lr"``, ``"group/<label>"``) as host arrays ``(size, n)``."""
        blocks = []
        for offset in range(0, n, programs.BLOCK):
            k = min(programs.BLOCK, n - offset)
            self.values, out = self._advance(
                self.values, self.hp, self.batches, np.int32(first + offset), np.int32(k)
            )
            blocks.append((out, k))
        host = [(self.layout.gather(out, self.size), k) for out, k in blocks]
        return {name: np.concatenate([o[name][:, :k] for o, k in host], 1) for name in host[0][0]}

    def evaluate(self) -> dict[str, np.ndarray]:
        """Every member's evaluation, as host arrays ``(size,)`` (empty without one)."""
        if self._evaluate is None:
            return {}
        return self.layout.gather(self._evaluate(self.values, self.hp), self.size)

    def take(self, index: np.ndarray, hp: Any = None) -> None:
        """Keep the members ``index`` (positions among the current ones, repeats allowed),
        in that order, with hyperparameters ``hp`` (default: theirs)."""
        index = np.asarray(index, np.int32)
        self._place(jax.tree.map(lambda x: x[index], self.hp_host) if hp is None else hp)
        padded = self.layout.replicate(pad(index, self.padded))
        self.values = _take(self.layout.sharded)(self.values, padded)

    def host_values(self) -> list:
        """The carries' arrays on the host, without padding."""
        return self.layout.gather(self.values, self.size)

    def carry(self) -> Any:
        """The carries stacked along the population axis, on the host: the arrays filled
        into the structure of ``init`` (an optimizer built from a traced hyperparameter
        in there is a placeholder: `lrjax.sweep.member_carry` rebuilds it)."""
        template = carries.structure(self.init, jax.tree.map(lambda x: x[0], self.hp_host))
        return carries.fill(template, self.host_values())
