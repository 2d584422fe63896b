"""The main job of `lrjax sweep`, for any task: search, test the winner, report.

`sweep` loads the task (`lrjax.sweep.task.load`), builds its space with the config's
``[space]`` entries (`setting`), checks the memory the job needs (`memory`), runs the
search the options name (`searches`), trains the winner and the task's baselines again
and tests them (`winner`), runs the range test where the task can replace its rate
(`range_test`), and writes the report with figures that follow the space (`report`,
`figures`). The command line (`lrjax.cli`) only reads and checks the options.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from lrjax.job import memory, range_test, report, searches, winner
from lrjax.job.setting import space_of
from lrjax.sweep.task import Task, load


def prepare(options: Any, task: Task | None = None) -> searches.Job:
    """The task and its space for ``options`` (an `lrjax.cli.Config`), the task's own
    defaults filled in for the options left unset, and the memory checked: everything
    that can be refused before any training. ``task`` (a `Task` value) replaces the
    one ``options.task`` names."""
    if task is None:
        task = load(
            options.task, {**options.task_options, "steps": options.steps, "seed": options.seed}
        )
    elif not isinstance(task, Task):
        raise TypeError(f"task must be a lrjax.sweep.task.Task, got {type(task).__name__}")
    defaults = {"sampler": "grid", "points": 3, "population": 64, "search": "sample"}
    chosen = {k: getattr(options, k) for k in defaults}
    filled = {
        k: v if v is not None else task.defaults.get(k, defaults[k]) for k, v in chosen.items()
    }
    if filled["sampler"] == "grid" and options.population is None:
        filled["population"] = None  # the grid's own size
    options = dataclasses.replace(options, **filled, seed=options.seed or 0)
    options.check()
    specs = space_of(task, options.space)
    say = (lambda *a: None) if options.quiet else (lambda *a: print(*a, file=sys.stderr))
    job = searches.Job(task, specs, options, Path(options.out), say)
    memory.check(job)
    return job


def sweep(options: Any, task: Task | None = None) -> Path:
    """Run the job ``options`` (an `lrjax.cli.Config`) describe, on ``task`` if given,
    and write its report; returns report.md."""
    job = prepare(options, task)
    job.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    found = searches.SEARCHES[job.options.search](job)
    seconds = time.perf_counter() - t0
    best, others = winner.score(job, found)
    tested = None
    if job.options.range_test:
        tested = range_test.run(job, found.hparams)
    path = report.write(job, found, best, others, seconds, tested)
    print(f"best: {best.name}: " + ", ".join(f"{k} {v:.4g}" for k, v in best.metrics.items()))
    return path


__all__ = ["Task", "prepare", "sweep"]
