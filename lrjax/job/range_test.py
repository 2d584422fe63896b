"""The learning-rate range test on any task that can replace its rate (``with_rate``).

One run of the winner's other hyperparameters whose rate grows exponentially from 1e-6
to 10 over at most 200 steps (fastai's settings: smoothed with β = 0.98 and debiased,
stopped at 4x worse than the best; β is lower for a shorter test), recording the task's
``range_metric`` at every step. For a supervised task that is the training loss of each
batch before its update (Smith 2017); for a task whose data depend on the policy (RL) it
is the online form: the same run collects its own data at each rate, and a return is
maximised (`lrjax.finder.record` with ``mode="max"``). Then a check: the task trained at
the valley suggestion with a constant rate, scored as the search scored it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrjax import finder, plot
from lrjax import schedules as S
from lrjax.job.winner import retrain
from lrjax.sweep.task import Task

START, END, POINTS = 1e-6, 10.0, 200
"""The rates of the test: from START towards END over at most POINTS steps."""


def smoothing(steps: int) -> float:
    """The smoothing factor β for a test of ``steps`` points: fastai's 0.98 from 200
    points on, less for a shorter test (1 - 4 / steps), whose average would otherwise lag
    by most of its length."""
    return min(0.98, 1.0 - 4.0 / steps)


def _lookup(step: jax.Array, table: jax.Array) -> jax.Array:
    return table[jnp.minimum(step, table.shape[0] - 1)]


def run(job: Any, hp: Any) -> tuple[str, Any] | None:
    """The range test's report text and figure, or None when the task has no
    ``with_rate`` or trains fewer than 10 steps."""
    from lrjax.sweep import run as sweep_run

    task: Task = job.task
    if task.with_rate is None:
        return None
    n = min(job.steps, POINTS)
    if n < 10:
        return None  # too few steps to read a curve from
    job.say(f"lrjax sweep: range test ({n} steps)")
    lrs = finder.lr_grid(START, END, n, endpoint=False)
    init, step = task.with_rate(S.from_fn(_lookup, {"table": jnp.asarray(lrs, jnp.float32)}))
    one = jax.tree.map(lambda x: np.asarray(x)[None], hp)
    if task.batches is None:
        result = sweep_run(init, step, one, steps=n, score=task.range_metric)
    else:
        batches = jax.tree.map(lambda b: b[:n], task.batches)
        result = sweep_run(init, step, one, batches, score=task.range_metric)
    metric = task.range_metric
    values = result.curves[metric][0]
    beta = smoothing(n)
    test = finder.record(lrs, values, beta=beta, debias=True, diverge_th=4.0, mode=task.range_mode)
    rules = {}
    for title, rule in (
        ("valley", "valley"),
        ("minimum / 10", "minimum"),
        ("steepest", "steepest"),
    ):
        try:
            rules[title] = finder.suggest(test, rule)
        except ValueError:  # too few points before the divergence for this rule
            continue
    best = "highest" if task.range_mode == "max" else "lowest"
    figure = plot.range_test(
        job.out / "range_test.png",
        test.lrs,
        test.losses,
        test.smoothed,
        rules,
        title=f"range test: rate from {START:g} growing exponentially over {n} steps",
        ylabel=metric,
        mode=task.range_mode,
    )
    stopped = (
        f"stopped at step {test.stop_index} (rate {test.lrs[-1]:.3g}), 4x worse than the best"
        if test.stop_index is not None
        else "never 4x worse than the best"
    )
    text = (
        f"One run of the winner's other hyperparameters with the rate growing exponentially "
        f"from {START:g} towards {END:g} over {n} steps, recording {metric} at every step "
        f"(smoothed, β = {beta:.3g}, debiased; {best} is best; {stopped}).\n\n"
        + "\n".join(f"- {name}: {lr:.3g}" for name, lr in rules.items())
    )
    if "valley" not in rules:
        return text + "\n\nToo few points before the divergence for a valley suggestion.\n", figure
    valley = rules["valley"]
    constant = task.with_rate(S.constant(valley))
    value = retrain(job, hp, dataclasses.replace(task, init=constant[0], step=constant[1]))
    text += (
        f"\n\nTrained at the valley suggestion {valley:.3g} with a constant rate for "
        f"{job.steps} steps, {task.score} is {value:.4g}.\n"
    )
    return text, figure
