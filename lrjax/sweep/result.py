"""What a sweep returns: per member, its hyperparameters, curves, evaluations and score.

The score is one metric, named by the sweep (``score=``), with a direction
(``mode="min"`` or ``"max"``): rows, rankings, halving, PBT, Bayesian search and the
report all read it from here. A diverged member (a non-finite per-step metric) ranks
after every member that did not diverge.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from lrjax.sweep.population import is_writer

MODES = ("min", "max")


def check_mode(mode: Any) -> str:
    """``mode`` as "min" or "max": `TypeError` for a non-string, `ValueError` otherwise."""
    if not isinstance(mode, str):
        raise TypeError(f"mode must be 'min' or 'max', got {mode!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode


def ranking_key(scores: np.ndarray, mode: str) -> np.ndarray:
    """Scores turned so that lower is better and non-finite ones come last (+inf)."""
    scores = np.asarray(scores, np.float64)
    key = scores if mode == "min" else -scores
    return np.where(np.isfinite(key), key, np.inf)


def tail_mean(curves: np.ndarray) -> np.ndarray:
    """The mean over the last quarter (at least one) of each row's steps: the score of a
    per-step metric, less noisy than its last value."""
    tail = max(1, curves.shape[1] // 4)
    return curves[:, -tail:].mean(axis=1)


class SweepResult(NamedTuple):
    """Per member (row) of the population.

    hparams: name -> array (population,), flattened from the hyperparameter pytree
      with "/"-joined keys.
    metrics: name -> (population, steps) per-step metrics (a step that returns a scalar
      gives ``"loss"``); in the whole-program form, ``train``'s outputs (population, ...).
    lrs: (population, steps) learning rate each step applied (NaN where the carry holds no
      lrjax state, or parameter groups: one rate per group is in `group_lrs`).
    evals: name -> (population, n_evals) values of ``evaluate`` after each segment.
    eval_steps: (n_evals,) the step counts at which ``evaluate`` ran.
    carry: the final carries stacked along the population axis (host arrays; structure
      from ``init``), when the sweep was asked for them (``return_carry=True``).
    group_lrs: group label -> (population, steps) rate of each parameter group where the
      optimizer partitions the params (`optax.partition`, `optax.multi_transform`; nested
      labels "/"-joined); empty otherwise. Groups' rates are never multiplied into `lrs`.
    score: the metric that ranks members: an evaluation's name (its last value) or a
      per-step metric's (the mean of its last quarter of steps).
    mode: "min" or "max", the score's direction.
    """

    hparams: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    lrs: np.ndarray
    evals: dict[str, np.ndarray]
    eval_steps: np.ndarray
    carry: Any = None
    group_lrs: dict[str, np.ndarray] = {}  # noqa: RUF012 - never mutated, replaced whole
    score: str = "loss"
    mode: str = "min"

    @property
    def size(self) -> int:
        return len(next(iter(self.hparams.values())))

    @property
    def losses(self) -> np.ndarray:
        """(population, steps) the per-step ``"loss"`` metric."""
        if "loss" not in self.metrics:
            raise KeyError(f"no per-step 'loss' metric; the metrics are {sorted(self.metrics)}")
        return self.metrics["loss"]

    @property
    def curves(self) -> dict[str, np.ndarray]:
        """The per-step metrics of shape (population, steps): the ones rows summarise."""
        return {k: v for k, v in self.metrics.items() if np.ndim(v) == 2}

    @property
    def diverged(self) -> np.ndarray:
        """(population,) bool: a per-step metric became non-finite (NaN or +/-inf) at some
        step. The member's training broke down there (a non-finite loss gives non-finite
        gradients, and the parameters follow), so its later numbers, often NaN, say
        nothing about how good its hyperparameters are: it ranks after every member that
        did not diverge."""
        bad = np.zeros(self.size, bool)
        for v in self.curves.values():
            bad |= ~np.all(np.isfinite(v), axis=1)
        return bad

    def scores(self) -> np.ndarray:
        """(population,) each member's score: the last evaluation of `score`, or the mean
        of the last quarter of its per-step curve (the final value of a whole-program
        metric of one value per member)."""
        if self.score in self.evals:
            return np.asarray(self.evals[self.score][:, -1], np.float64)
        if self.score in self.metrics:
            values = np.asarray(self.metrics[self.score], np.float64)
            return values if values.ndim == 1 else tail_mean(values.reshape(len(values), -1))
        names = sorted({*self.evals, *self.metrics})
        raise KeyError(f"score {self.score!r} is not a metric of this sweep: {names}")

    def ranking(self) -> np.ndarray:
        """Members from best to worst: not diverged first, then by score in `mode`'s
        direction (non-finite scores last), ties in population order."""
        key = ranking_key(self.scores(), self.mode)
        return np.lexsort((np.arange(self.size), key, self.diverged))

    @property
    def best(self) -> int:
        """The index of the best member (see `ranking`)."""
        return int(self.ranking()[0])

    def rows(self) -> list[dict[str, Any]]:
        """One row per member: hyperparameters, ``score``, ``diverged`` (see `diverged`),
        the final and best value of each per-step metric (``final_train_<name>``,
        ``best_train_<name>``) and of each evaluation (``final_<name>``,
        ``best_<name>``). "Best" is the best finite value in the sweep's direction
        (`mode`: the minimum, or the maximum), NaN when none is finite. Whole-program
        metrics of one value per member give ``final_<name>``. A name that would fill a
        column twice is an error."""
        curves = self.curves
        single = {k: v for k, v in self.metrics.items() if np.ndim(v) == 1}
        columns = [*self.hparams, "score", "diverged"]
        columns += [f"{kind}_train_{name}" for name in curves for kind in ("final", "best")]
        columns += [f"final_{name}" for name in single]
        columns += [f"{kind}_{name}" for name in self.evals for kind in ("final", "best")]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"rows: column {repeated[0]!r} would be filled twice; rename it")
        diverged, scores = self.diverged, self.scores()
        rows = []
        for i in range(self.size):
            row = {k: v[i].item() for k, v in self.hparams.items()}
            row["score"] = float(scores[i])
            row["diverged"] = bool(diverged[i])
            for name, values in curves.items():
                row[f"final_train_{name}"] = float(values[i, -1]) if values.shape[1] else None
                row[f"best_train_{name}"] = self._best(values[i])
            for name, values in single.items():
                row[f"final_{name}"] = float(values[i])
            for name, values in self.evals.items():
                row[f"final_{name}"] = float(values[i, -1]) if values.shape[1] else None
                row[f"best_{name}"] = self._best(values[i]) if values.shape[1] else None
            rows.append(row)
        return rows

    def _best(self, values: np.ndarray) -> float:
        """The best finite entry in `mode`'s direction, NaN when there is none (without
        NumPy's All-NaN warning)."""
        finite = values[np.isfinite(values)]
        if not len(finite):
            return float("nan")
        return float(finite.min() if self.mode == "min" else finite.max())

    def to_csv(self, path: str | Path) -> None:
        """The rows as CSV (written by process 0 only in a `jax.distributed` run, where
        every process holds the same result)."""
        if not is_writer():
            return
        rows = self.rows()
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    def to_json(self, path: str | Path) -> None:
        """The rows, plus the metric, learning-rate and evaluation curves, as strict JSON:
        a non-finite number (NaN, +/-inf: a diverged member, a step without a rate) is
        written as ``null``, since JSON has no NaN and a strict reader refuses Python's
        bare ``NaN``; the rows' ``diverged`` says which members diverged. Written by
        process 0 only in a `jax.distributed` run."""
        if not is_writer():
            return
        data = {
            "score": self.score,
            "mode": self.mode,
            "rows": [{k: json_number(v) for k, v in row.items()} for row in self.rows()],
            "metrics": {k: json_array(v) for k, v in self.metrics.items()},
            "lrs": json_array(self.lrs),
            "group_lrs": {k: json_array(v) for k, v in self.group_lrs.items()},
            "evals": {k: json_array(v) for k, v in self.evals.items()},
            "eval_steps": np.asarray(self.eval_steps).tolist(),
        }
        Path(path).write_text(json.dumps(data, allow_nan=False))

    def select(self, members: Any) -> SweepResult:
        """The result of the given members only (an index array or slice), in that order."""
        take = lambda x: x[members]  # noqa: E731
        return self._replace(
            hparams={k: take(v) for k, v in self.hparams.items()},
            metrics={k: take(v) for k, v in self.metrics.items()},
            lrs=take(self.lrs),
            evals={k: take(v) for k, v in self.evals.items()},
            carry=None if self.carry is None else jax.tree.map(take, self.carry),
            group_lrs={k: take(v) for k, v in self.group_lrs.items()},
        )


def concatenate(results: list[SweepResult]) -> SweepResult:
    """Results of the same sweep over consecutive parts of a population, as one."""
    first = results[0]
    cat = lambda *x: np.concatenate(x)  # noqa: E731
    return first._replace(
        hparams={k: cat(*(r.hparams[k] for r in results)) for k in first.hparams},
        metrics={k: cat(*(r.metrics[k] for r in results)) for k in first.metrics},
        lrs=cat(*(r.lrs for r in results)),
        evals={k: cat(*(r.evals[k] for r in results)) for k in first.evals},
        carry=None if first.carry is None else jax.tree.map(cat, *(r.carry for r in results)),
        group_lrs={k: cat(*(r.group_lrs[k] for r in results)) for k in first.group_lrs},
    )


def flat_names(tree: Any) -> dict[str, np.ndarray]:
    """The leaves of `tree` as host arrays keyed by their "/"-joined paths."""
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {
        "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path): np.asarray(v)
        for path, v in leaves
    }


def json_number(value: Any) -> Any:
    """A row's value for JSON: a non-finite float becomes None (``null``)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def json_array(values: np.ndarray) -> list:
    """Nested lists of ``values`` with None (``null``) for each non-finite entry."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return values.tolist()
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()
