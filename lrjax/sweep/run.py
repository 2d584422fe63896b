"""Train a population of hyperparameter settings as one compiled, vmapped program.

The user writes one member's training: ``init(hp) -> carry`` and
``step(carry, batch, hp) -> (carry, loss)`` (the carry holds params and optimizer state,
any pytree), plus an optional ``evaluate(carry, hp) -> {name: value}``. `run` vmaps
them over the population (the leading axis of ``hp``), scans over steps inside one
`jax.jit`, and returns a `SweepResult`. The population is sharded over all devices
(a one-axis `Mesh` and `NamedSharding`), trained in chunks of ``chunk_size`` members when
it does not fit at once, and the steps run in segments of ``eval_every``, so evaluation
and progress reach the host per segment rather than per step. Results do not depend on
the chunking, the sharding or the segmenting (tested).
"""

from __future__ import annotations

import csv
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from lrjax.transforms.applied import find_rate


class SweepResult(NamedTuple):
    """Per member (row) of the population.

    hparams: name -> array (population,), flattened from the hyperparameter pytree
      with "/"-joined keys.
    losses: (population, steps) training loss of every step.
    lrs: (population, steps) learning rate each step applied (NaN where the carry holds no
      lrjax state, or parameter groups: one rate per group is in `group_lrs`).
    evals: name -> (population, n_evals) values of ``evaluate`` after each segment.
    eval_steps: (n_evals,) the step counts at which ``evaluate`` ran.
    carry: the final carries (params, optimizer states), stacked along the population
      axis as NumPy arrays, when `run` was asked for them (``return_carry=True``).
    group_lrs: group label -> (population, steps) rate of each parameter group where the
      optimizer partitions the params (`optax.partition`, `optax.multi_transform`; nested
      labels "/"-joined); empty otherwise. Groups' rates are never multiplied into `lrs`.
    """

    hparams: dict[str, np.ndarray]
    losses: np.ndarray
    lrs: np.ndarray
    evals: dict[str, np.ndarray]
    eval_steps: np.ndarray
    carry: Any = None
    group_lrs: dict[str, np.ndarray] = {}  # noqa: RUF012 - never mutated, replaced whole

    @property
    def size(self) -> int:
        return self.losses.shape[0]

    @property
    def diverged(self) -> np.ndarray:
        """(population,) bool: the member's training loss became non-finite (NaN or
        +/-inf) at some step. Its training broke down there (a non-finite loss gives
        non-finite gradients, and the parameters follow), so its later numbers, often
        NaN, say nothing about how good its hyperparameters are: rank it after every
        member that did not diverge (as ``lrjax sweep`` does)."""
        return ~np.all(np.isfinite(self.losses), axis=1)

    def rows(self) -> list[dict[str, Any]]:
        """One row per member: hyperparameters, final and best training loss
        (``final_train_loss``, ``best_train_loss``), ``diverged`` (True when the training
        loss became non-finite at some step, see `diverged`), final and best of each
        evaluation (``final_<name>``, ``best_<name>``; best = the minimum of the finite
        values, so evaluate losses, or errors rather than accuracies; NaN when none is
        finite). A name that would fill a column twice is an error."""
        columns = [*self.hparams, "final_train_loss", "best_train_loss", "diverged"]
        columns += [f"{kind}_{name}" for name in self.evals for kind in ("final", "best")]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"rows: column {repeated[0]!r} would be filled twice; rename it")
        diverged = self.diverged
        rows = []
        for i in range(self.size):
            row = {k: v[i].item() for k, v in self.hparams.items()}
            row["final_train_loss"] = float(self.losses[i, -1])
            row["best_train_loss"] = _finite_min(self.losses[i])
            row["diverged"] = bool(diverged[i])
            for name, values in self.evals.items():
                row[f"final_{name}"] = float(values[i, -1]) if values.shape[1] else None
                row[f"best_{name}"] = _finite_min(values[i]) if values.shape[1] else None
            rows.append(row)
        return rows

    def to_csv(self, path: str | Path) -> None:
        rows = self.rows()
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def to_json(self, path: str | Path) -> None:
        """The rows, plus the loss, learning-rate and evaluation curves, as strict JSON:
        a non-finite number (NaN, +/-inf: a diverged member, a step without a rate) is
        written as ``null``, since JSON has no NaN and a strict reader refuses Python's
        bare ``NaN``; the rows' ``diverged`` says which members diverged."""
        data = {
            "rows": [{k: _json_number(v) for k, v in row.items()} for row in self.rows()],
            "losses": _json_array(self.losses),
            "lrs": _json_array(self.lrs),
            "group_lrs": {k: _json_array(v) for k, v in self.group_lrs.items()},
            "evals": {k: _json_array(v) for k, v in self.evals.items()},
            "eval_steps": self.eval_steps.tolist(),
        }
        Path(path).write_text(json.dumps(data, allow_nan=False))


def _finite_min(values: np.ndarray) -> float:
    """The least finite entry, NaN when there is none (without NumPy's All-NaN warning)."""
    finite = values[np.isfinite(values)]
    return float(finite.min()) if len(finite) else float("nan")


def _json_number(value: Any) -> Any:
    """A row's value for JSON: a non-finite float becomes None (``null``)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _json_array(values: np.ndarray) -> list:
    """Nested lists of ``values`` with None (``null``) for each non-finite entry."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return values.tolist()
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _path_names(tree: Any) -> dict[str, Any]:
    """The leaves of `tree` keyed by their "/"-joined paths."""
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {
        "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path): v
        for path, v in leaves
    }


def _flat_names(tree: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in _path_names(tree).items()}


def _rates(carry: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The step's one rate (NaN where there is none, or one per group) and the groups'."""
    rate = find_rate(carry)
    nan = jnp.asarray(jnp.nan, jnp.float32)
    if rate is None:
        return nan, {}
    if isinstance(rate, dict):
        return nan, {
            k: jnp.asarray(v, jnp.float32).reshape(()) for k, v in _path_names(rate).items()
        }
    return jnp.asarray(rate, jnp.float32).reshape(()), {}


def _count(name: str, value: Any, low: int) -> int:
    """A host-side count (steps per segment, members per chunk) as an int: `TypeError`
    for a value that is not an integer at all (2.5, True, "4": `range` and slicing need
    an int, and a bool is not a count), `ValueError` below ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _leading(name: str, tree: Any, axis: str) -> int:
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


def rows_of(tree: Any, start: int, stop: int) -> Any:
    return jax.tree.map(lambda x: x[start:stop], tree)


def _pad(tree: Any, extra: int) -> Any:
    """Repeat the last member `extra` times, so the population shards evenly; the extra
    members' results are dropped."""
    if extra == 0:
        return tree
    return jax.tree.map(lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], extra, 0)]), tree)


@functools.lru_cache(maxsize=32)
def population_init(init: Callable) -> Callable:
    """``hp -> carry`` for a whole population, jitted; cached per `init`, so repeated
    sweeps with the same function compile once per shape."""
    return jax.jit(jax.vmap(init))


@functools.lru_cache(maxsize=32)
def population_segment(step: Callable, evaluate: Callable | None) -> Callable:
    """``(carry, hp, batches) -> (carry, losses, lrs, metrics)`` for a whole population:
    one member's scan over a segment of steps, vmapped over members (the batches are
    shared) and jitted, with the carry donated. Cached per (`step`, `evaluate`), like
    `population_init`."""

    def member(carry, hp, segment):
        def body(c, batch):
            c, loss = step(c, batch, hp)
            return c, (loss, _rates(c))

        carry, (losses, lrs) = jax.lax.scan(body, carry, segment)
        metrics = {} if evaluate is None else evaluate(carry, hp)
        return carry, losses, lrs, metrics

    return jax.jit(jax.vmap(member, in_axes=(0, 0, None)), donate_argnums=0)


def population_mesh() -> Mesh:
    """A one-axis mesh named "population" over all devices."""
    return Mesh(np.array(jax.devices()), ("population",))


def run(
    init: Callable[[Any], Any],
    step: Callable[[Any, Any, Any], tuple[Any, jax.Array]],
    hparams: Any,
    batches: Any,
    *,
    evaluate: Callable[[Any, Any], dict[str, jax.Array]] | None = None,
    eval_every: int | None = None,
    chunk_size: int | None = None,
    mesh: Mesh | None = None,
    progress: bool = False,
    return_carry: bool = False,
) -> SweepResult:
    """Train every member of the population on the same `batches` (leading axis: steps).

    Args:
      init: ``hp -> carry`` for one member.
      step: ``(carry, batch, hp) -> (carry, loss)`` for one member and one batch.
      hparams: a pytree of arrays with a leading population axis (see `lrjax.sweep.space`).
      batches: a pytree of arrays with a leading step axis, shared by all members.
      evaluate: ``(carry, hp) -> {name: scalar}``, run after every segment.
      eval_every: steps per segment, an integer >= 1 (default: all steps in one
        segment; the last segment may be shorter).
      chunk_size: members trained at once, an integer >= 1 (default: the whole
        population).
      mesh: the devices to shard the population over (default: all of them).
      progress: print a progress line per segment to stderr.
      return_carry: keep every member's final carry (copied to host memory) in the
        result, to evaluate or keep training the members afterwards.

    Compiled programs are cached per function object: pass the same `init`, `step` and
    `evaluate` (not fresh lambdas) to reuse them across calls of the same shapes.
    """
    population = _leading("hparams", hparams, "population")
    steps = _leading("batches", batches, "step")
    eval_every = steps if eval_every is None else _count("eval_every", eval_every, 1)
    chunk_size = population if chunk_size is None else _count("chunk_size", chunk_size, 1)
    mesh = population_mesh() if mesh is None else mesh
    n_dev = mesh.devices.size
    sharding = NamedSharding(mesh, PartitionSpec("population"))
    bounds = list(range(0, steps, eval_every)) + [steps]

    init_pop = population_init(init)
    segment_pop = population_segment(step, evaluate)

    chunks, carries = [], []
    t0 = time.perf_counter()
    for start in range(0, population, chunk_size):
        hp = rows_of(hparams, start, start + chunk_size)
        size = jax.tree.leaves(hp)[0].shape[0]
        hp = jax.device_put(_pad(hp, -size % n_dev), sharding)
        carry = init_pop(hp)
        losses, lrs, groups, evals = [], [], [], []
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            segment = rows_of(batches, a, b)
            carry, seg_losses, (seg_lrs, seg_groups), metrics = segment_pop(carry, hp, segment)
            losses.append(np.asarray(seg_losses)[:size])
            lrs.append(np.asarray(seg_lrs)[:size])
            groups.append({k: np.asarray(v)[:size] for k, v in seg_groups.items()})
            evals.append({k: np.asarray(v)[:size] for k, v in metrics.items()})
            if progress:
                done = (start + size * b / steps) / population
                print(
                    f"\rsweep: members {start + size}/{population}, step {b}/{steps}, "
                    f"{time.perf_counter() - t0:.1f} s ({100 * done:.0f}%)",
                    end="",
                    file=sys.stderr,
                )
        if return_carry:
            carries.append(jax.tree.map(lambda x, size=size: np.asarray(x)[:size], carry))
        chunks.append(
            (
                np.concatenate(losses, 1),
                np.concatenate(lrs, 1),
                {k: np.stack([e[k] for e in evals], 1) for k in (evals[0] if evals else {})},
                {k: np.concatenate([g[k] for g in groups], 1) for k in groups[0]},
            )
        )
    if progress:
        print(file=sys.stderr)
    return SweepResult(
        _flat_names(hparams),
        np.concatenate([c[0] for c in chunks]),
        np.concatenate([c[1] for c in chunks]),
        {k: np.concatenate([c[2][k] for c in chunks]) for k in chunks[0][2]},
        np.asarray(bounds[1:]),
        jax.tree.map(lambda *x: np.concatenate(x), *carries) if return_carry else None,
        {k: np.concatenate([c[3][k] for c in chunks]) for k in chunks[0][3]},
    )
