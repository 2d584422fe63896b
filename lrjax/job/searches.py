"""The search drivers of `lrjax sweep`: how the settings are chosen and trained.

Each takes the job's options, the task and its space, and returns a `Found`: one row per
setting in the task's terms, the ranking, the winner's hyperparameters, and the search's
own section and figures for the report. None of them knows a task: everything comes from
the `lrjax.sweep.task.Task`.

- ``sample``: the sampler's population (grid, random, Halton), trained as one vmapped
  program (`lrjax.sweep.run`, or `run_train` for a whole-program task).
- ``halving``: successive halving of that population (`successive_halving`).
- ``pbt``: population-based training from it (`pbt`).
- ``bayes``: Optuna's TPE proposing settings in vmapped rounds (`lrjax.sweep.bayes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from lrjax.job import figures
from lrjax.job.setting import label, member, rows_named, swept, unflatten
from lrjax.sweep import space as sp
from lrjax.sweep.result import SweepResult, ranking_key
from lrjax.sweep.task import Task


class Found(NamedTuple):
    """What a search found: ``rows`` (one per setting: its values, choices named, the
    score under the score's name, ``diverged``, and the search's own columns), ``order``
    (best first), ``hparams`` (the winner's, one member's arrays), ``result`` (the
    `SweepResult` with every curve, where the search keeps one), the search's report
    ``sections`` and ``figures`` ((title, text) and (title, path)), the table
    ``columns``, and ``how``: a sentence saying what the winner's setting is."""

    rows: list[dict]
    order: list[int]
    hparams: Any
    result: SweepResult | None
    sections: list
    figures: list
    columns: list[str]
    how: str = ""


class Job(NamedTuple):
    """What a search needs: the task, its space, the options, the report folder, and
    ``say`` for progress lines."""

    task: Task
    specs: dict
    options: Any  # lrjax.cli.Config
    out: Path
    say: Callable[[str], None]

    @property
    def steps(self) -> int:
        """Training steps per member: the batches' length, or the task's ``steps`` (0
        where a whole-program task does not say)."""
        if self.task.batches is not None:
            return int(jax.tree.leaves(self.task.batches)[0].shape[0])
        return int(self.task.steps or 0)

    @property
    def eval_every(self) -> int:
        return self.options.eval_every or max(1, self.steps // 10)

    def run_kwargs(self) -> dict[str, Any]:
        """The arguments every engine call shares: batches or steps, the evaluation, the
        score and its direction."""
        task = self.task
        kwargs = {"evaluate": task.evaluate, "score": task.score, "mode": task.mode}
        if task.batches is None:
            kwargs["steps"] = task.steps
        return kwargs


def population(options: Any, specs: Mapping[str, Any]) -> dict:
    """The sampler's settings: the grid of ``points`` values per continuous dimension
    (every value of a choice), or as many per dimension as ``population`` allows (rounded
    down to whole choice cells), or ``population`` random or Halton draws."""
    if options.sampler == "grid":
        return sp.grid(specs, grid_points(options, specs))
    sampler = sp.random if options.sampler == "random" else sp.halton
    return sampler(specs, options.population, seed=options.seed)


def grid_points(options: Any, specs: Mapping[str, Any]) -> int:
    """Grid points per continuous dimension: ``points``, or the most that keep the grid
    within ``population`` (`ValueError` when not even one per choice cell fits)."""
    dims = swept(specs)
    cells = int(np.prod([len(d.values) for d in dims.values() if isinstance(d, sp.choice)]))
    continuous = sum(not isinstance(d, sp.choice) for d in dims.values())
    if options.population is None or not continuous:
        if options.population is not None and options.population < cells:
            raise ValueError(
                f"population {options.population} is smaller than the grid's {cells} cells"
            )
        return options.points
    per_cell = options.population // cells
    if per_cell < 1:
        raise ValueError(
            f"population {options.population} is smaller than the grid's {cells} choice cells"
        )
    points = int(np.floor(per_cell ** (1 / continuous) + 1e-9))
    return max(1, points)


def sample(job: Job) -> Found:
    """Every member of the sampler's population, trained as one vmapped program."""
    from lrjax.sweep import run, run_train

    task, options = job.task, job.options
    hp = population(options, job.specs)
    n = len(jax.tree.leaves(hp)[0])
    job.say(f"lrjax sweep: {n} members" + (f" x {job.steps} steps" if job.steps else ""))
    if task.stepwise:
        result = run(
            task.init,
            task.step,
            hp,
            task.batches,
            **job.run_kwargs(),
            eval_every=job.eval_every,
            chunk_size=options.chunk_size,
            progress=not options.quiet,
        )
    else:
        result = run_train(
            task.train, hp, score=task.score, mode=task.mode, chunk_size=options.chunk_size
        )
    rows = result_rows(task, result)
    order = [int(i) for i in result.ranking()]
    figs = figures.sweep(job, result, rows, order)
    return Found(rows, order, member(hp, order[0]), result, [], figs, columns(job, result))


def result_rows(task: Task, result: SweepResult) -> list[dict]:
    """One row per member of a sweep: its setting (choices named), the score under the
    score's name, ``diverged``, and the final value of each other evaluation and per-step
    metric."""
    rows = []
    scores, diverged = result.scores(), result.diverged
    named = rows_named(task, unflatten(result.hparams))
    for i in range(result.size):
        row = {**named[i], task.score: float(scores[i]), "diverged": bool(diverged[i])}
        for name, values in result.evals.items():
            if name != task.score and values.shape[1]:
                row[name] = float(values[i, -1])
        for name, values in result.curves.items():
            if name != task.score and values.shape[1]:
                row[f"train_{name}"] = float(np.mean(values[i, -max(1, values.shape[1] // 10) :]))
        rows.append(row)
    return rows


def columns(job: Job, result: SweepResult | None = None, extra: tuple = ()) -> list[str]:
    """The table columns: swept dimensions, the search's own, the score, then the other
    evaluations and per-step metrics."""
    cols = [*swept(job.specs), *extra, job.task.score]
    if result is not None:
        cols += [k for k in result.evals if k != job.task.score]
        cols += [f"train_{k}" for k in result.curves if k != job.task.score]
    return cols


def rungs(steps: int, keep: float) -> list[int]:
    """Successive halving's rung ends: steps * keep**2, steps * keep, steps."""
    ends = [max(1, round(steps * keep**k)) for k in (2, 1, 0)]
    return sorted(set(ends))


def halving(job: Job) -> Found:
    """Successive halving over the sampler's population: everyone trains to the first
    rung, the best ``keep`` fraction (by the score) continues, and so on."""
    from lrjax import plot
    from lrjax.sweep import successive_halving

    task, options = job.task, job.options
    _needs_steps(task, "halving")
    hp = population(options, job.specs)
    named = rows_named(task, hp)
    n, ends = len(named), rungs(job.steps, options.keep)
    job.say(f"lrjax sweep: successive halving of {n} members, rungs at {ends} steps")
    kwargs = job.run_kwargs()
    kwargs.pop("steps", None)  # halving trains to the last rung
    found = successive_halving(
        task.init, task.step, hp, task.batches, ends, keep=options.keep, **kwargs
    )
    reached, last = np.zeros(n, int), np.full(n, np.nan)
    per_rung = np.full((n, len(ends)), np.nan)
    for r, (alive, scores) in enumerate(zip(found.survivors, found.scores, strict=True)):
        reached[alive], last[alive], per_rung[alive, r] = ends[r], scores, scores
    rows = [
        {**named[i], "steps": int(reached[i]), task.score: float(last[i]),
         "diverged": not np.isfinite(last[i])}
        for i in range(n)
    ]  # fmt: skip
    key = ranking_key(last, task.mode)
    order = [found.best, *(i for i in np.lexsort((key, -reached)) if i != found.best)]
    starts = [0, *ends[:-1]]
    used = sum(len(a) * (b - a0) for a, a0, b in zip(found.survivors, starts, ends, strict=True))
    text = (
        f"{n} settings, rungs ending at {', '.join(map(str, ends))} steps, the best "
        f"{options.keep:.3g} (by {task.score}) continuing from where they stopped: "
        f"{' -> '.join(str(len(a)) for a in found.survivors)} settings per rung, "
        f"{used} member-steps, {used / (n * job.steps):.0%} of training all {n} to the end.\n"
    )
    dims = swept(job.specs)
    figs = [
        (
            f"{task.score} at each rung",
            plot.paths(
                job.out / "halving.png",
                np.asarray(ends),
                per_rung,
                highlight=per_rung[found.best],
                label=label(rows[found.best], dims),
                title=f"successive halving: {task.score} at each rung (grey: every setting)",
                xlabel="steps",
                ylabel=task.score,
            ),
        ),
        *figures.space_map(job, rows, "at the last rung each setting reached"),
    ]
    return Found(
        rows,
        [int(i) for i in order],
        member(hp, found.best),
        None,
        [("Successive halving", text)],
        figs,
        columns(job, extra=("steps",)),
    )


def pbt(job: Job) -> Found:
    """Population-based training from the sampler's population: every ``eval_every``
    steps the worst quarter (by the score) copies the state of a member of the best
    quarter and multiplies its float hyperparameters by 0.8 or 1.25."""
    from lrjax import plot
    from lrjax.sweep import pbt as run_pbt

    task, options = job.task, job.options
    _needs_steps(task, "pbt")
    hp = population(options, job.specs)
    n, every = len(rows_named(task, hp)), job.eval_every
    job.say(f"lrjax sweep: PBT of {n} members, exploit/explore every {every} steps")
    found = run_pbt(
        task.init, task.step, hp, task.batches, ready_every=every, seed=options.seed,
        **job.run_kwargs(),
    )  # fmt: skip
    final = np.asarray(found.scores[-1], np.float64)
    named = rows_named(task, found.final_hparams)
    rows = [
        {**named[i], task.score: float(final[i]), "diverged": not np.isfinite(final[i])}
        for i in range(n)
    ]
    order = [int(i) for i in np.argsort(ranking_key(final, task.mode), kind="stable")]
    best = order[0]
    lineage = found.lineage(best)
    floats = [k for k, d in swept(job.specs).items() if not d.integer]
    sections, figs = [], []
    copies = sum(int((p != np.arange(n)).sum()) for p in found.parents)
    text = (
        f"{n} settings trained together for {job.steps} steps; after every {every} steps "
        f"the worst quarter by {task.score} copied the state of one of the best quarter and "
        f"multiplied its float hyperparameters ({', '.join(floats) or 'none'}) by 0.8 or "
        f"1.25 ({copies} copies in {len(found.parents)} rounds; integer ones are copied, "
        f"never perturbed)."
    )
    if floats:
        name = floats[0]
        values = np.array([_flat(h)[name] for h in found.hparams], np.float64)  # (rounds, n)
        path = values[np.arange(len(lineage)), lineage]
        ends = np.minimum(np.arange(1, len(values) + 1) * every, job.steps)
        text += f" The winner's {name} at each round: {' -> '.join(f'{p:.3g}' for p in path)}."
        figs.append(
            (
                f"{name} over PBT rounds",
                plot.paths(
                    job.out / "pbt.png",
                    ends,
                    values.T,
                    highlight=path,
                    label=f"winner ({label(rows[best], swept(job.specs))})",
                    title=f"PBT: each member's {name} (grey) and the winner's line of ancestors",
                    xlabel="steps (the end of each PBT round)",
                    ylabel=name,
                ),
            )
        )
    sections.append(("Population-based training", text + "\n"))
    figs += figures.space_map(job, rows, "final settings")
    how = (
        "PBT changed its hyperparameters during training, so no single setting is the "
        "search's own run; the test retrains its final setting from the start"
    )
    return Found(
        rows, order, member(found.final_hparams, best), None, sections, figs, columns(job), how
    )


def bayes(job: Job) -> Found:
    """Optuna's TPE over the space, ``round_size`` trials per vmapped run."""
    import optuna

    from lrjax import plot
    from lrjax.sweep import bayes as optuna_search
    from lrjax.sweep.result import concatenate

    task, options = job.task, job.options
    _needs_steps(task, "bayes")
    if task.evaluate is None:
        raise ValueError(
            f"--search bayes needs the task's evaluate: its score {task.score!r} is told to "
            f"Optuna at each evaluation"
        )
    job.say(f"lrjax sweep: {options.trials} Optuna trials x {job.steps} steps")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the report says what it did
    kwargs = job.run_kwargs()
    del kwargs["score"], kwargs["mode"]  # Optuna's objective and direction instead
    found = optuna_search.search(
        task.init,
        task.step,
        job.specs,
        task.batches,
        **kwargs,
        objective=task.score,
        direction="minimize" if task.mode == "min" else "maximize",
        trials=options.trials,
        batch_size=options.round_size,
        storage=options.storage,
        seed=options.seed,
        eval_every=job.eval_every,
        chunk_size=options.chunk_size,
    )
    if not found.sweeps:
        raise ValueError("the study already holds every trial asked for; raise --trials")
    result = concatenate(found.sweeps)
    rows = result_rows(task, result)
    order = [int(i) for i in result.ranking()]
    rounds = found.rounds
    text = (
        f"Optuna's TPE sampler (seed {options.seed}, constant liar) proposed "
        f"{options.trials} trials in rounds of {options.round_size}; each round trained as "
        f"one vmapped program and told Optuna the final {task.score}. Best: "
        f"{found.best_value:.4g}. Seconds per round: first {rounds[0]:.2f} (compilation "
        f"included), then median "
        f"{np.median(rounds[1:]) if len(rounds) > 1 else float('nan'):.2f}.\n"
    )
    history = plot.history(
        job.out / "history.png",
        found.history,
        title=f"Optuna TPE: {task.score} of each trial and the best so far",
        ylabel=f"final {task.score}",
        mode=task.mode,
    )
    figs = [("Optimization history", history), *figures.sweep(job, result, rows, order)]
    hp = member(unflatten(result.hparams), order[0])
    return Found(
        rows, order, hp, result, [("Bayesian optimization", text)], figs, columns(job, result)
    )


SEARCHES: dict[str, Callable[[Job], Found]] = {
    "sample": sample,
    "halving": halving,
    "pbt": pbt,
    "bayes": bayes,
}


def _needs_steps(task: Task, search: str) -> None:
    if not task.stepwise:
        raise ValueError(
            f"--search {search} needs the task's init and step (it stops, copies or "
            f"continues members between steps); task {task.name!r} has only train(hp)"
        )


def _flat(hp: Any) -> dict[str, np.ndarray]:
    from lrjax.sweep.result import flat_names

    return flat_names(hp)
