"""Train a population of hyperparameter settings as one compiled, vmapped program.

Two ways to write a member's training, one engine (`lrjax.sweep.population` places,
chunks and gathers both):

* **Step by step** (`run`): ``init(hp) -> carry`` and ``step(carry, batch, hp)`` (or
  ``step(carry, hp)`` without batches) returning ``(carry, loss)`` or
  ``(carry, {name: scalar})``, plus an optional ``evaluate(carry, hp) -> {name: scalar}``
  after every segment of ``eval_every`` steps. The carry may hold params and optax
  states as plain pytrees or as framework objects (Flax NNX modules and
  ``nnx.Optimizer``, a Linen ``TrainState``, Equinox modules; see `lrjax.sweep.carry`).
* **Whole program** (`run_train`): ``train(hp) -> metrics``, the PureJaxRL style.

One metric is the score (``score=``, ``mode="min"`` or ``"max"``). Results depend on the
chunk size and device count only at the level of rounding (XLA batches matmuls
differently for other shapes), which chaotic training (RL) can grow into other
trajectories; `replay` reproduces one member bitwise.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from lrjax.sweep import carry as carries
from lrjax.sweep import programs
from lrjax.sweep.checkpoint import open_checkpoints
from lrjax.sweep.logs import Segment
from lrjax.sweep.members import Members, count, leading, score_name, split_rates, total_steps
from lrjax.sweep.population import Layout, chunks, pad, population_mesh, rows_of
from lrjax.sweep.result import SweepResult, check_mode, concatenate, flat_names

__all__ = ["SweepResult", "member_carry", "population_mesh", "replay", "run", "run_train"]


def assemble(segments: list[Segment], eval_steps: list[int], mode: str) -> SweepResult:
    """One `SweepResult` from the segments of `run`, chunk after chunk."""
    by_chunk: dict[int, list[Segment]] = {}
    for s in segments:
        by_chunk.setdefault(int(s.members[0]), []).append(s)
    parts = []
    for part in by_chunk.values():
        first = part[0]

        def steps(get, part=part):
            return np.concatenate([get(s) for s in part], 1)

        parts.append(
            SweepResult(
                first.hparams,
                {k: steps(lambda s, k=k: s.metrics[k]) for k in first.metrics},
                steps(lambda s: s.lrs),
                {k: np.stack([s.evals[k] for s in part], 1) for k in first.evals},
                np.asarray(eval_steps),
                None,
                {k: steps(lambda s, k=k: s.group_lrs[k]) for k in first.group_lrs},
                first.score,
                mode,
            )
        )
    return concatenate(parts)


def run(
    init: Callable[[Any], Any],
    step: Callable[..., tuple[Any, Any]],
    hparams: Any,
    batches: Any = None,
    *,
    steps: int | None = None,
    evaluate: Callable[[Any, Any], dict[str, jax.Array]] | None = None,
    eval_every: int | None = None,
    score: str | None = None,
    mode: str = "min",
    chunk_size: int | None = None,
    mesh: Mesh | None = None,
    progress: bool = False,
    return_carry: bool = False,
    callback: Callable[[Segment], Any] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> SweepResult:
    """Train every member of the population, on the same `batches` or for `steps` steps.

    Args:
      init: ``hp -> carry`` for one member.
      step: ``(carry, batch, hp)`` (with `batches`) or ``(carry, hp)`` (with `steps`),
        returning ``(carry, loss)`` or ``(carry, {name: scalar})``.
      hparams: a pytree of arrays with a leading population axis (see `lrjax.sweep.space`).
      batches: a pytree of arrays with a leading step axis, shared by all members; or
        None, and `steps` says how many steps to take.
      steps: the number of steps, an integer >= 1, when there are no `batches`.
      evaluate: ``(carry, hp) -> {name: scalar}``, run after every segment.
      eval_every: steps per segment, an integer >= 1 (default: all steps in one
        segment; the last segment may be shorter). Segments of any length reuse one
        compiled program (see `lrjax.sweep.programs`).
      score: the metric that ranks members: a name from `step`'s metrics (a scalar step
        output is "loss") or from `evaluate`'s (default: "loss", or the only metric).
      mode: "min" or "max", the score's direction.
      chunk_size: members trained at once, an integer >= 1 (default: the whole
        population).
      mesh: the devices to shard the population over (default: every device of every
        process).
      progress: print a progress line per segment to stderr.
      return_carry: keep every member's final carry (host arrays) in the result.
      callback: called on the host with a `lrjax.sweep.logs.Segment` after every segment
        (see `lrjax.sweep.logs` for writers: JSON lines, CSV, TensorBoard).
      checkpoint: a folder to save the sweep's progress in, every `checkpoint_every`
        segments, with orbax-checkpoint.
      resume: continue from the newest checkpoint in `checkpoint` (a fresh start where
        there is none). The resumed result equals the uninterrupted one bitwise on the
        same machine and layout.

    Compiled programs are cached per function object: pass the same `init`, `step` and
    `evaluate` (not fresh lambdas) to reuse them across calls of the same shapes.
    """
    mode = check_mode(mode)
    population = leading("hparams", hparams, "population")
    total = total_steps(batches, steps)
    eval_every = total if eval_every is None else count("eval_every", eval_every, 1)
    chunk_size = population if chunk_size is None else count("chunk_size", chunk_size, 1)
    checkpoint_every = count("checkpoint_every", checkpoint_every, 1)
    layout = Layout(mesh)
    hp_host, names = jax.tree.map(np.asarray, hparams), flat_names(hparams)
    bounds = [*range(0, total, eval_every), total]
    fingerprint = {
        "counts": np.array([population, total, eval_every, chunk_size, layout.devices]),
        "hparams": names,
    }
    saved, state = open_checkpoints(checkpoint, resume, fingerprint)
    if state is None:
        state = {"chunk": 0, "segment": 0, "values": None, "segments": [], "carries": []}
    else:
        state["segments"] = [Segment(**s) for s in state["segments"]]
    shared = None if batches is None else layout.replicate(batches)
    t0, done = time.perf_counter(), len(state["segments"])
    try:
        for c, (a, b) in enumerate(chunks(population, chunk_size)):
            if c < state["chunk"]:
                continue
            members = Members(
                init, step, evaluate, layout, rows_of(hp_host, a, b), shared, state["values"]
            )
            for k in range(state["segment"], len(bounds) - 1):
                first, stop = bounds[k], bounds[k + 1]
                metrics, lrs, groups = split_rates(members.advance(first, stop - first))
                evals = members.evaluate()
                score = score_name(score, metrics, evals)
                segment = Segment(
                    "run", first, stop, np.arange(a, b), rows_of(names, a, b), metrics,
                    lrs, groups, evals, score, mode,
                )  # fmt: skip
                state["segments"].append(segment)
                if callback is not None:
                    callback(segment)
                if progress:
                    _progress(a, b, stop, total, population, t0)
                done += 1
                last = k + 2 == len(bounds)
                state.update(chunk=c + last, segment=0 if last else k + 1)
                if last and return_carry:
                    state["carries"].append(members.host_values())
                if saved is not None and done % checkpoint_every == 0:
                    state["values"] = None if last else members.host_values()
                    saved.save(done, _saveable(state, fingerprint))
            state["values"] = None
    finally:
        if saved is not None:
            saved.close()
    if progress:
        print(file=sys.stderr)
    result = assemble(state["segments"], bounds[1:], mode)
    if return_carry:
        values = [_concatenate(x) for x in zip(*state["carries"], strict=True)]
        template = carries.structure(init, jax.tree.map(lambda x: x[0], hp_host))
        result = result._replace(carry=carries.fill(template, values))
    return result


def _concatenate(parts: tuple) -> Any:
    """Chunks' host arrays along the population axis (PRNG key arrays stay keys)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], jax.Array):
        return jax.numpy.concatenate(parts)
    return np.concatenate(parts)


def _saveable(state: dict, fingerprint: dict) -> dict:
    return {
        **state,
        "segments": [s._asdict() for s in state["segments"]],
        "fingerprint": fingerprint,
    }


def _progress(a: int, b: int, stop: int, total: int, population: int, t0: float) -> None:
    done = (a + (b - a) * stop / total) / population
    print(
        f"\rsweep: members {b}/{population}, step {stop}/{total}, "
        f"{time.perf_counter() - t0:.1f} s ({100 * done:.0f}%)",
        end="",
        file=sys.stderr,
    )


def run_train(
    train: Callable[[Any], Any],
    hparams: Any,
    *,
    score: str | None = None,
    mode: str = "min",
    chunk_size: int | None = None,
    mesh: Mesh | None = None,
    callback: Callable[[Segment], Any] | None = None,
) -> SweepResult:
    """The whole-program form: ``train(hp) -> metrics`` for one member (a pytree of
    arrays, such as per-update returns), vmapped over the population, jitted
    (``jax.jit(jax.vmap(train))``, cached per `train`), sharded over every device and
    chunked as `run` does.

    The result's `metrics` hold ``train``'s outputs by "/"-joined name, each
    ``(population, ...)``; ``score`` names one (default: the only one, or "loss"),
    ranked in ``mode``'s direction: a metric of one value per member is its own score, a
    curve scores the mean of its last quarter. ``callback`` gets one `Segment` per chunk.
    """
    mode = check_mode(mode)
    population = leading("hparams", hparams, "population")
    chunk_size = population if chunk_size is None else count("chunk_size", chunk_size, 1)
    layout, program = Layout(mesh), programs.whole(train)
    hp_host, names = jax.tree.map(np.asarray, hparams), flat_names(hparams)
    parts = []
    for a, b in chunks(population, chunk_size):
        hp = layout.place(pad(rows_of(hp_host, a, b), layout.padded(b - a)))
        metrics = flat_names(layout.gather(program(hp), b - a))
        if score is None:
            score = next(iter(metrics)) if len(metrics) == 1 else "loss"
        if score not in metrics:
            raise ValueError(f"score {score!r} is not among train's outputs {sorted(metrics)}")
        length = next((v.shape[1] for v in metrics.values() if v.ndim > 1), 1)
        lrs = np.zeros((b - a, 0), np.float32)
        segment = Segment(
            "train", 0, length, np.arange(a, b), rows_of(names, a, b), metrics, lrs, {}, {},
            score, mode,
        )  # fmt: skip
        if callback is not None:
            callback(segment)
        parts.append(SweepResult(segment.hparams, metrics, lrs, {}, np.zeros(0, int)))
    return concatenate(parts)._replace(score=score, mode=mode)


def member_carry(init: Callable, hparams: Any, carry: Any, member: int) -> Any:
    """Member ``member``'s final carry as `init` builds it, with its real objects: the
    arrays of a result's stacked ``carry`` (``return_carry=True``) filled into
    ``init(hp)`` of that member's hyperparameters, so an optimizer built from them (a
    ``TrainState``'s ``tx``, an ``nnx.Optimizer``) is whole again."""
    hp = jax.tree.map(lambda x: np.asarray(x)[member], hparams)
    return carries.fill(init(hp), [x[member] for x in carries.arrays(carry)])


def replay(member: int, hparams: Any, *args: Any, chunk_size: int | None = None, **kw):
    """Member ``member`` of a sweep trained again, bitwise as in the sweep: its
    hyperparameters fill a population of the size of the chunk it trained in, laid out
    on the same devices, so every compiled shape is the sweep's. ``args`` and ``kw`` are
    `run`'s (``init, step, ...`` after ``hparams``; the same ``chunk_size`` and
    ``mesh``). Returns that member's `SweepResult` (one row).

    Why not alone: XLA compiles a population of another size (a single member, a
    smaller chunk, fewer devices) to other batched kernels, whose float rounding
    differs; in chaotic training (RL) those roundings grow into other trajectories."""
    population = leading("hparams", hparams, "population")
    chunk = population if chunk_size is None else count("chunk_size", chunk_size, 1)
    size = min(chunk, population - member // chunk * chunk)  # the member's chunk's size
    hp = jax.tree.map(lambda x: np.repeat(np.asarray(x)[member : member + 1], size, 0), hparams)
    init, step, *rest = args
    result = run(init, step, hp, *rest, **kw)
    return result.select(np.array([0]))
