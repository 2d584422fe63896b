"""Searches that act on a running population: successive halving and population-based
training. Both reuse `run`'s member functions (``init``, ``step``, ``evaluate``) and train
whole populations per compiled segment; selection between segments is array code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import _checks
from lrjax.sweep.run import _count, _leading, population_init, population_segment, rows_of


@functools.lru_cache(maxsize=32)
def _as_evaluate(score: Callable) -> Callable:
    """``score`` as an `evaluate` for `population_segment`; one per score function, so
    the compiled segment is reused."""
    return lambda carry, hp: {"score": score(carry, hp)}


def _take(tree: Any, index: jax.Array) -> Any:
    return jax.tree.map(lambda x: x[index], tree)


class HalvingResult(NamedTuple):
    """survivors[r]: indices (into the initial population) alive during rung r;
    scores[r]: their score at the end of rung r (lower is better); best: the index of
    the winner."""

    survivors: list[np.ndarray]
    scores: list[np.ndarray]
    best: int


def successive_halving(
    init: Callable,
    step: Callable,
    hparams: Any,
    batches: Any,
    rungs: Sequence[int],
    *,
    keep: float = 0.5,
    score: Callable[[Any, Any], jax.Array] | None = None,
) -> HalvingResult:
    """Train everyone for ``rungs[0]`` steps, keep the best `keep` fraction (at least one),
    continue them (their state carried over, not restarted) to ``rungs[1]`` steps, and so
    on. `score(carry, hp)` ranks members, lower is better (default: the mean training loss
    of the rung's last quarter of steps). ``rungs`` are integers, increasing, >= 1;
    `batches` must hold ``rungs[-1]`` steps.

    Reference: Jamieson & Talwalkar, "Non-stochastic best arm identification and
    hyperparameter optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 2018.
    """
    _checks.between("keep", keep, 0.0, 1.0, open_low=True, open_high=True)
    rungs = _rungs(rungs, _leading("batches", batches, "step"))
    evaluate = None if score is None else _as_evaluate(score)
    segment = population_segment(step, evaluate)
    alive = np.arange(_leading("hparams", hparams, "population"))
    hp = hparams
    carry = population_init(init)(hp)
    survivors, scores, start = [], [], 0
    for stop in rungs:
        carry, losses, _, metrics = segment(carry, hp, rows_of(batches, start, stop))
        tail = max(1, (stop - start) // 4)
        s = np.asarray(metrics["score"] if score else jnp.mean(losses[:, -tail:], axis=1))
        s = np.where(np.isfinite(s), s, np.inf)
        survivors.append(alive)
        scores.append(s)
        # round() first: 90 * 0.7 is 62.999..., and 63 members are meant to stay
        order = np.argsort(s, kind="stable")[: max(1, int(round(len(alive) * keep, 9)))]
        alive, hp, carry = alive[order], _take(hp, order), _take(carry, order)
        start = stop
    return HalvingResult(survivors, scores, int(survivors[-1][np.argmin(scores[-1])]))


def _rungs(rungs: Any, steps: int) -> list[int]:
    """``rungs`` as a list of ints: `TypeError` unless it is a sequence of integers,
    `ValueError` unless they increase from >= 1 to at most ``steps`` (the steps that
    `batches` holds: a rung past them would train for fewer steps than it says, and a
    repeated rung would train for none)."""
    if isinstance(rungs, (str, bytes)) or not isinstance(rungs, (Sequence, np.ndarray)):
        raise TypeError(f"rungs must be a sequence of step counts, got {rungs!r}")
    ends = [_count(f"rungs[{i}]", r, 1) for i, r in enumerate(list(rungs))]
    if not ends:
        raise ValueError("rungs must hold at least one step count, got []")
    if any(b <= a for a, b in zip(ends, ends[1:], strict=False)):
        raise ValueError(f"rungs must increase, got {ends}")
    if ends[-1] > steps:
        raise ValueError(f"rungs end at {ends[-1]} steps but batches hold {steps}")
    return ends


class PBTResult(NamedTuple):
    """hparams[r]: the population's hyperparameters during segment r; scores[r]: the
    scores at its end (lower is better); parents[r][i]: the member whose carry and
    hyperparameters member i took after segment r (i itself if it kept its own; one
    entry fewer than segments); final carry and hyperparameters. `lineage` follows
    `parents` back from a member."""

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
    batches: Any,
    *,
    ready_every: int,
    seed: int = 0,
    fraction: float = 0.25,
    factors: Sequence[float] = (0.8, 1.25),
    perturb: Callable[[str], bool] = lambda name: True,
    score: Callable[[Any, Any], jax.Array] | None = None,
) -> PBTResult:
    """Population-based training: segments of `ready_every` steps, each followed by
    `exploit_explore` (inside jit). The score is `score(carry, hp)` (lower is better) or
    the mean training loss over the segment's last quarter. ``ready_every`` is an
    integer >= 1; ``seed`` (of `jax.random.key`) an integer in [-2**63, 2**63)."""
    ready_every = _count("ready_every", ready_every, 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer (jax.random.key's seed), got {seed!r}")
    if not -(2**63) <= seed < 2**63:
        raise ValueError(f"seed must be in [-2**63, 2**63) (jax.random.key's), got {seed}")
    _checks.between("fraction", fraction, 0.0, 0.5, open_low=True)
    evaluate = None if score is None else _as_evaluate(score)
    segment = population_segment(step, evaluate)
    select = jax.jit(
        lambda key, s, c, hp: exploit_explore(
            key, s, c, hp, fraction=fraction, factors=factors, perturb=perturb
        )
    )
    steps = _leading("batches", batches, "step")
    key = jax.random.key(seed)
    carry = population_init(init)(hparams)
    history, scores, parents = [], [], []
    for start in range(0, steps, ready_every):
        stop = min(steps, start + ready_every)
        history.append(jax.tree.map(np.asarray, hparams))
        carry, losses, _, metrics = segment(carry, hparams, rows_of(batches, start, stop))
        tail = max(1, (stop - start) // 4)
        s = metrics["score"] if score else jnp.mean(losses[:, -tail:], axis=1)
        scores.append(np.asarray(s))
        if stop < steps:
            key, sub = jax.random.split(key)
            carry, hparams, source = select(sub, s, carry, hparams)
            parents.append(np.asarray(source))
    return PBTResult(history, scores, carry, hparams, parents)
