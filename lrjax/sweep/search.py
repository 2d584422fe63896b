"""Searches that act on a running population: successive halving and population-based
training. Both drive the step form's engine (`lrjax.sweep.members.Members`: the same
compiled programs as `lrjax.sweep.run`, any carry, sharded over every device) and select
between segments on the host; PBT's exploit/explore step is array code (`exploit_explore`).
Both rank by the sweep's score in its direction, call ``callback`` with a
`lrjax.sweep.logs.Segment` after every segment, and checkpoint and resume as `run` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from lrjax import _checks
from lrjax.sweep.checkpoint import open_checkpoints
from lrjax.sweep.logs import Segment
from lrjax.sweep.members import (
    Members,
    count,
    leading,
    score_name,
    scores,
    split_rates,
    total_steps,
)
from lrjax.sweep.population import Layout
from lrjax.sweep.result import check_mode, flat_names, ranking_key


@functools.lru_cache(maxsize=32)
def _as_evaluate(score: Callable) -> Callable:
    """A score function ``(carry, hp) -> scalar`` as an `evaluate` giving ``"score"``; one
    per score function, so the compiled evaluation is reused."""
    return lambda carry, hp: {"score": score(carry, hp)}


def _scoring(score: Any, mode: str, evaluate: Callable | None):
    """(score name, mode, evaluate): a score function becomes an evaluation."""
    mode = check_mode(mode)
    if callable(score):
        if evaluate is not None:
            raise ValueError("pass either a score function or evaluate with a score name")
        return "score", mode, _as_evaluate(score)
    if score is not None and not isinstance(score, str):
        raise TypeError(f"score must be a metric name or a function, got {score!r}")
    return score, mode, evaluate


def _take(tree: Any, index: jax.Array) -> Any:
    return jax.tree.map(lambda x: x[index], tree)


class _Search:
    """What halving and PBT share: the layout, the members, checkpoints and callbacks."""

    def __init__(self, kind, init, step, evaluate, hparams, batches, mesh, score, mode):
        self.kind, self.score, self.mode = kind, score, mode
        self.layout = Layout(mesh)
        shared = None if batches is None else self.layout.replicate(batches)
        self.start = lambda hp, values=None: Members(
            init, step, evaluate, self.layout, hp, shared, values
        )

    def segment(self, members, slots, first, stop, callback):
        """Train ``members`` over steps ``first .. stop - 1``; their scores."""
        metrics, lrs, groups = split_rates(members.advance(first, stop - first))
        evals = members.evaluate()
        self.score = score_name(self.score, metrics, evals)
        s = scores(self.score, metrics, evals)
        if callback is not None:
            names = flat_names(members.hp_host)
            callback(
                Segment(
                    self.kind,
                    first,
                    stop,
                    np.asarray(slots),
                    names,
                    metrics,
                    lrs,
                    groups,
                    evals,
                    self.score,
                    self.mode,
                )  # fmt: skip
            )
        return s


class HalvingResult(NamedTuple):
    """survivors[r]: indices (into the initial population) alive during rung r;
    scores[r]: their score at the end of rung r (a non-finite one as the worst value:
    +inf when minimising, -inf when maximising); best: the index of the winner."""

    survivors: list[np.ndarray]
    scores: list[np.ndarray]
    best: int


def successive_halving(
    init: Callable,
    step: Callable,
    hparams: Any,
    batches: Any = None,
    rungs: Sequence[int] = (),
    *,
    keep: float = 0.5,
    score: str | Callable[[Any, Any], jax.Array] | None = None,
    mode: str = "min",
    evaluate: Callable | None = None,
    mesh: Mesh | None = None,
    callback: Callable[[Segment], Any] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> HalvingResult:
    """Train everyone for ``rungs[0]`` steps, keep the best `keep` fraction (at least one),
    continue them (their state carried over, not restarted) to ``rungs[1]`` steps, and so
    on. ``init``, ``step``, ``batches`` (or none: then ``rungs[-1]`` steps), ``evaluate``,
    ``score``, ``mode``, ``mesh``, ``callback`` and the checkpoints are as for
    `lrjax.sweep.run`: members rank by the score at the end of each rung, in ``mode``'s
    direction (a per-step metric scores the mean of the rung's last quarter of steps;
    the default is "loss", or the only metric). ``score`` may also be a function
    ``(carry, hp) -> scalar``, lower is better. ``rungs`` are integers, increasing, >= 1,
    within the batches' steps.

    Reference: Jamieson & Talwalkar, "Non-stochastic best arm identification and
    hyperparameter optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 2018.
    """
    _checks.between("keep", keep, 0.0, 1.0, open_low=True, open_high=True)
    score, mode, evaluate = _scoring(score, mode, evaluate)
    limit = None if batches is None else total_steps(batches, None)
    rungs = _rungs(rungs, limit)
    checkpoint_every = count("checkpoint_every", checkpoint_every, 1)
    n = leading("hparams", hparams, "population")
    hp = jax.tree.map(np.asarray, hparams)
    search = _Search("halving", init, step, evaluate, hp, batches, mesh, score, mode)
    fingerprint = {
        "counts": np.array([n, search.layout.devices, *rungs]),
        "keep": np.float64(keep),
        "hparams": flat_names(hp),
    }
    saved, state = open_checkpoints(checkpoint, resume, fingerprint)
    if state is None:
        state = {"rung": 0, "alive": np.arange(n), "survivors": [], "scores": [], "values": None}
    alive = np.asarray(state["alive"])
    members = search.start(jax.tree.map(lambda x: x[alive], hp), state["values"])
    try:
        for r in range(state["rung"], len(rungs)):
            first = rungs[r - 1] if r else 0
            s = search.segment(members, alive, first, rungs[r], callback)
            state["survivors"].append(alive)
            worst = np.inf if mode == "min" else -np.inf
            state["scores"].append(np.where(np.isfinite(s), s, worst))
            # round() first: 90 * 0.7 is 62.999..., and 63 members are meant to stay
            kept = max(1, int(round(len(alive) * keep, 9)))
            order = np.argsort(ranking_key(s, mode), kind="stable")[:kept]
            if r + 1 < len(rungs):
                members.take(order)
                alive = alive[order]
            state.update(rung=r + 1, alive=alive)
            if saved is not None and (r + 1) % checkpoint_every == 0:
                state["values"] = members.host_values()
                saved.save(r + 1, {**state, "fingerprint": fingerprint})
    finally:
        if saved is not None:
            saved.close()
    last = state["survivors"][-1]
    best = int(last[np.argsort(ranking_key(state["scores"][-1], mode), kind="stable")[0]])
    return HalvingResult(state["survivors"], state["scores"], best)


def _rungs(rungs: Any, steps: int | None) -> list[int]:
    """``rungs`` as a list of ints: `TypeError` unless it is a sequence of integers,
    `ValueError` unless they increase from >= 1 to at most ``steps`` (the steps that
    `batches` holds, if any: a rung past them would train for fewer steps than it says,
    and a repeated rung would train for none)."""
    if isinstance(rungs, (str, bytes)) or not isinstance(rungs, (Sequence, np.ndarray)):
        raise TypeError(f"rungs must be a sequence of step counts, got {rungs!r}")
    ends = [count(f"rungs[{i}]", r, 1) for i, r in enumerate(list(rungs))]
    if not ends:
        raise ValueError("rungs must hold at least one step count, got []")
    if any(b <= a for a, b in zip(ends, ends[1:], strict=False)):
        raise ValueError(f"rungs must increase, got {ends}")
    if steps is not None and ends[-1] > steps:
        raise ValueError(f"rungs end at {ends[-1]} steps but batches hold {steps}")
    return ends


class PBTResult(NamedTuple):
    """hparams[r]: the population's hyperparameters during segment r; scores[r]: the
    scores at its end (in the search's direction); parents[r][i]: the member whose carry
    and hyperparameters member i took after segment r (i itself if it kept its own; one
    entry fewer than segments); the final carry (host arrays in the structure of
    ``init``'s carry; see `lrjax.sweep.member_carry`) and hyperparameters. `lineage`
    follows `parents` back from a member."""

    hparams: list[Any]
    scores: list[np.ndarray]
    carry: Any
    final_hparams: Any
    parents: list[np.ndarray]

    def lineage(self, member: int) -> list[int]:
        """The slot that ``member``'s final state occupied in each segment, first to last:
        follow its hyperparameters with ``[h[k] for h, k in zip(hparams, lineage)]``."""
        path = [member]
        for parents in reversed(self.parents):
            path.append(int(parents[path[-1]]))
        return path[::-1]


def exploit_explore(
    key: jax.Array,
    scores: jax.Array,
    carry: Any,
    hparams: Any,
    *,
    fraction: float = 0.25,
    factors: Sequence[float] = (0.8, 1.25),
    perturb: Callable[[str], bool] = lambda name: True,
) -> tuple[Any, Any, jax.Array]:
    """One PBT step, all array operations (jit-able): the worst `fraction` of the
    population copies the carry and hyperparameters of members drawn from the best
    `fraction`, then multiplies each copied float hyperparameter (those `perturb` accepts,
    by "/"-joined key path) by a factor drawn from `factors`; integer hyperparameters
    (indices of schedule families, optimizers) are copied, never perturbed. Lower scores
    are better. Returns the new carry, the new hyperparameters, and ``source``: the
    member each member copied (itself if it was kept).

    Reference: Jaderberg et al., "Population based training of neural networks",
    arXiv:1711.09846, 2017 (truncation selection, perturb explore).
    """
    n = scores.shape[0]
    k = max(1, int(n * fraction))
    order = jnp.argsort(jnp.where(jnp.isfinite(scores), scores, jnp.inf))
    top, bottom = order[:k], order[n - k :]
    pick, mult = jax.random.split(key)
    donors = top[jax.random.randint(pick, (k,), 0, k)]
    source = jnp.arange(n).at[bottom].set(donors)  # who each member copies (itself if kept)
    carry = _take(carry, source)
    hparams = _take(hparams, source)
    scale = jnp.asarray(factors)[jax.random.randint(mult, (n,), 0, len(factors))]
    changed = jnp.zeros(n, bool).at[bottom].set(True)

    def explore(path, x):
        name = "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)
        if not jnp.issubdtype(x.dtype, jnp.floating) or not perturb(name):
            return x
        factor = jnp.where(changed, scale, 1).reshape((n,) + (1,) * (x.ndim - 1))
        return (x * factor).astype(x.dtype)

    return carry, jax.tree_util.tree_map_with_path(explore, hparams), source


def pbt(
    init: Callable,
    step: Callable,
    hparams: Any,
    batches: Any = None,
    *,
    ready_every: int,
    steps: int | None = None,
    seed: int = 0,
    fraction: float = 0.25,
    factors: Sequence[float] = (0.8, 1.25),
    perturb: Callable[[str], bool] = lambda name: True,
    score: str | Callable[[Any, Any], jax.Array] | None = None,
    mode: str = "min",
    evaluate: Callable | None = None,
    mesh: Mesh | None = None,
    callback: Callable[[Segment], Any] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> PBTResult:
    """Population-based training: segments of `ready_every` steps, each followed by
    `exploit_explore` on the members' scores (inside jit). ``init``, ``step``,
    ``batches`` (or ``steps``), ``evaluate``, ``score``, ``mode``, ``mesh``,
    ``callback`` and the checkpoints are as for `lrjax.sweep.run` (a per-step score is
    the mean of the segment's last quarter of steps; ``score`` may also be a function
    ``(carry, hp) -> scalar``, lower is better). ``ready_every`` is an integer >= 1;
    ``seed`` (of `jax.random.key`) an integer in [-2**63, 2**63)."""
    ready_every = count("ready_every", ready_every, 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer (jax.random.key's seed), got {seed!r}")
    if not -(2**63) <= seed < 2**63:
        raise ValueError(f"seed must be in [-2**63, 2**63) (jax.random.key's), got {seed}")
    _checks.between("fraction", fraction, 0.0, 0.5, open_low=True)
    score, mode, evaluate = _scoring(score, mode, evaluate)
    total = total_steps(batches, steps)
    checkpoint_every = count("checkpoint_every", checkpoint_every, 1)
    n = leading("hparams", hparams, "population")
    hp = jax.tree.map(np.asarray, hparams)
    select = jax.jit(
        lambda key, s, hp: exploit_explore(
            key, s, None, hp, fraction=fraction, factors=factors, perturb=perturb
        )[1:]
    )
    search = _Search("pbt", init, step, evaluate, hp, batches, mesh, score, mode)
    fingerprint = {
        "counts": np.array([n, total, ready_every, search.layout.devices, seed]),
        "hparams": flat_names(hp),
    }
    saved, state = open_checkpoints(checkpoint, resume, fingerprint)
    if state is None:
        state = {
            "segment": 0, "key": jax.random.key(seed), "hparams": hp, "history": [],
            "scores": [], "parents": [], "values": None,
        }  # fmt: skip
    members = search.start(state["hparams"], state["values"])
    bounds = [*range(0, total, ready_every), total]
    try:
        for k in range(state["segment"], len(bounds) - 1):
            first, stop = bounds[k], bounds[k + 1]
            state["history"].append(members.hp_host)
            s = search.segment(members, np.arange(n), first, stop, callback)
            state["scores"].append(s)
            if stop < total:
                state["key"], sub = jax.random.split(state["key"])
                new_hp, source = select(sub, jnp.asarray(ranking_key(s, mode)), members.hp_host)
                source = np.asarray(source)
                members.take(source, jax.tree.map(np.asarray, new_hp))
                state["parents"].append(source)
            state.update(segment=k + 1, hparams=members.hp_host)
            if saved is not None and (k + 1) % checkpoint_every == 0:
                state["values"] = members.host_values()
                saved.save(k + 1, {**state, "fingerprint": fingerprint})
    finally:
        if saved is not None:
            saved.close()
    return PBTResult(
        state["history"], state["scores"], members.carry(), members.hp_host, state["parents"]
    )
