"""The winner scored on held-out data, next to the peers' default settings.

With the task's ``test``, the winner's setting and each baseline's are trained again and
scored by it; without one, the winner alone is trained again by the sweep engine and its
score compared with the search's value.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from lrjax.job.setting import baseline, label, named, swept
from lrjax.sweep.result import flat_names


class Scored(NamedTuple):
    """A setting trained again: its name, its values (choices named), its metrics."""

    name: str
    setting: dict
    metrics: dict[str, float]


def score(job: Any, found: Any) -> tuple[Scored, list[Scored]]:
    """The winner and the baselines, each trained again and scored."""
    task = job.task
    setting = named(task, flat_names(found.hparams))
    name = label(setting, swept(job.specs))
    if task.test is None:
        job.say("lrjax sweep: retraining the winner")
        return Scored(name, setting, {task.score: retrain(job, found.hparams)}), []
    job.say("lrjax sweep: testing the winner")
    winner = Scored(name, setting, _floats(task.test(found.hparams)))
    baselines = []
    for title, values in task.baselines.items():
        job.say(f"lrjax sweep: testing the baseline {title}")
        hp = baseline(task, job.specs, values)
        baselines.append(Scored(title, named(task, flat_names(hp)), _floats(task.test(hp))))
    return winner, baselines


def retrain(job: Any, hp: Any, task: Any = None) -> float:
    """One setting trained alone by the sweep engine (a population of one); its score."""
    import jax

    from lrjax.sweep import run, run_train

    task = task or job.task
    one = jax.tree.map(lambda x: np.asarray(x)[None], hp)
    if task.stepwise:
        result = run(
            task.init, task.step, one, task.batches, **job.run_kwargs(), eval_every=job.steps
        )
    else:
        result = run_train(task.train, one, score=task.score, mode=task.mode)
    return float(result.scores()[0])


def headline(task: Any, winner: Scored) -> tuple[str, str]:
    """The test's metric that compares settings, and its direction."""
    name = task.headline or next(iter(winner.metrics))
    if name not in winner.metrics:
        raise ValueError(
            f"the task's headline {name!r} is not among its test's {list(winner.metrics)}"
        )
    return name, task.test_mode or task.mode


def change(winner: float, other: float, mode: str) -> str:
    """How much better ``winner`` is than ``other`` in ``mode``'s direction, in words:
    "0.41 lower (-12.3%)"."""
    if not (np.isfinite(winner) and np.isfinite(other)):
        return "n/a"
    diff = winner - other
    if diff == 0:
        return "equal"
    better = diff < 0 if mode == "min" else diff > 0
    percent = f" ({diff / abs(other):+.1%})" if other else ""
    word = "lower" if diff < 0 else "higher"
    return f"{abs(diff):.4g} {word}{percent}, {'better' if better else 'worse'}"


def _floats(metrics: Any) -> dict[str, float]:
    return {k: float(np.asarray(v)) for k, v in dict(metrics).items()}
