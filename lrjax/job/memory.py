"""The memory a job needs, estimated from its options and the task's shapes before any
training, so that a population or step count that cannot fit is refused at once rather
than ending in an out-of-memory kill minutes in."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from lrjax.job.setting import member
from lrjax.sweep.task import machine_memory, size


class Memory(NamedTuple):
    """Members in all and trained at once, and bytes per member kept for the whole job,
    per member while it trains, and shared."""

    members: int
    at_once: int
    per_member: int
    per_trained: int
    shared: int

    @property
    def total(self) -> int:
        return self.members * self.per_member + self.at_once * self.per_trained + self.shared


def members(job: Any) -> int:
    """Settings the job trains in all: the sampler's population, or the trials."""
    from lrjax.job.searches import grid_points
    from lrjax.sweep import space as sp

    options = job.options
    if options.search == "bayes":
        return options.trials
    if options.sampler != "grid":
        return options.population
    points, total = grid_points(options, job.specs), 1
    for spec in sp.dimensions(job.specs).values():  # the grid's size, without building it
        if isinstance(spec, sp.choice):
            total *= len(spec.values)
        elif isinstance(spec, sp.int_uniform) and points <= 10**6:
            total *= len(spec.grid(points))
        elif isinstance(spec, sp.int_uniform):
            total *= min(points, spec.high - spec.low + 1)
        else:
            total *= points
    return total


def estimate(job: Any) -> Memory:
    """Three parts, from the shapes `jax.eval_shape` gives for one member (nothing runs):

    - per member of the job (kept until the report is written): each per-step metric and
      the learning rate at every step, float32, held twice while segments are joined,
      8 x (metrics + 1) x steps bytes; each evaluation likewise, 8 x evaluations x
      evaluations per run; 1 KiB for its row;
    - per member trained at once (``chunk_size``, ``round_size``, else the population):
      its carry four times (the carry, gradients, updates and the new carry), and its
      segment's metric records;
    - shared: the batches.

    Left out: activations inside a step, the compiled programs and the data the task
    closes over (what does not grow with the population)."""
    from lrjax.job.searches import population

    task, options = job.task, job.options
    n = members(job)
    if options.search == "bayes":
        at_once = min(options.round_size, n, options.chunk_size or n)
    elif options.search == "sample":
        at_once = min(options.chunk_size or n, n)
    else:
        at_once = n
    steps = job.steps
    evals_per_run = -(-steps // job.eval_every)
    if task.stepwise:
        hp = member(population(_small(options), job.specs), 0)
        carry = jax.eval_shape(task.init, hp)
        batch = None if task.batches is None else jax.tree.map(lambda b: b[0], task.batches)
        args = (carry, hp) if batch is None else (carry, batch, hp)
        _, metrics = jax.eval_shape(task.step, *args)
        evals = {} if task.evaluate is None else jax.eval_shape(task.evaluate, carry, hp)
        n_metrics = len(metrics) if isinstance(metrics, dict) else 1
        carry_bytes = _bytes(carry)
    else:
        n_metrics, evals, carry_bytes = 1, {}, 0
    per_member = 8 * (n_metrics + 1) * steps + 8 * len(evals) * evals_per_run + 1024
    per_trained = 4 * carry_bytes + 4 * (n_metrics + 1) * steps
    shared = 0 if task.batches is None else _bytes(task.batches)
    return Memory(n, at_once, per_member, per_trained, shared)


def check(job: Any) -> None:
    """`ValueError` when `estimate` exceeds `machine_memory`, saying both and how many members
    would fit."""
    available = machine_memory()
    need = estimate(job)
    if available is None or need.total <= available:
        return
    free = available - need.shared
    if need.at_once < need.members:  # chunked: the members trained at once stay as many
        fit = (free - need.at_once * need.per_trained) // need.per_member
    else:
        fit = free // (need.per_member + need.per_trained)
    hint = f"at most {fit} members fit" if fit >= 1 else "lower the members and the steps"
    raise ValueError(
        f"{need.members} members x {job.steps} steps need about {size(need.total)} of memory, "
        f"more than this machine's {size(available)}: {hint} (estimate: "
        f"{size(need.per_member)} per member, {size(need.per_trained)} per member trained at "
        f"once ({need.at_once}), {size(need.shared)} shared)"
    )


def _small(options: Any) -> Any:
    """The options with a population of one draw (for one member's shapes)."""
    import dataclasses

    return dataclasses.replace(options, sampler="random", population=1)


def _bytes(tree: Any) -> int:
    """The bytes of a tree's arrays (a PRNG key counts its key data)."""
    total = 0
    for x in jax.tree.leaves(tree):
        if hasattr(x, "dtype") and hasattr(x, "shape"):
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
                total += 8 * int(np.prod(x.shape))
            else:
                total += int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
    return total
