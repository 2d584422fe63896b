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
from lrjax.sweep.run import population_init, population_segment, rows_of


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
    of the rung's last quarter of steps). `batches` must hold ``rungs[-1]`` steps.

    Reference: Jamieson & Talwalkar, "Non-stochastic best arm identification and
    hyperparameter optimization", AISTATS 2016; Li et al., "Hyperband", JMLR 2018.
    """
    _checks.between("keep", keep, 0.0, 1.0, open_low=True, open_high=True)
    _checks.nondecreasing("rungs", np.asarray(rungs))
    _checks.at_least("rungs", np.asarray(rungs)[0], 1)
    evaluate = None if score is None else _as_evaluate(score)
    segment = population_segment(step, evaluate)
    alive = np.arange(jax.tree.leaves(hparams)[0].shape[0])
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
    the mean training loss over the segment's last quarter."""
    _checks.at_least("ready_every", ready_every, 1)
    _checks.between("fraction", fraction, 0.0, 0.5, open_low=True)
    evaluate = None if score is None else _as_evaluate(score)
    segment = population_segment(step, evaluate)
    select = jax.jit(
        lambda key, s, c, hp: exploit_explore(
            key, s, c, hp, fraction=fraction, factors=factors, perturb=perturb
        )
    )
    steps = jax.tree.leaves(batches)[0].shape[0]
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
