"""What the report of `lrjax sweep` says: its sections, from the task, the space, what
the search found and the winner's tests. `lrjax.report` lays them out as files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrjax import report
from lrjax.job.setting import swept
from lrjax.job.winner import Scored, change, headline
from lrjax.sweep import space as sp

TOP = 15
"""Settings listed in the report's table of the best."""


def write(job: Any, found: Any, winner: Scored, baselines: list[Scored], seconds: float,
          range_test: tuple[str, Path] | None) -> Path:  # fmt: skip
    """Write ``report.md`` and ``results.csv`` into the job's folder; returns report.md."""
    import jax

    task, rows, order = job.task, found.rows, found.order
    sections = [("Summary", summary(job, found, winner, seconds, jax.devices()))]
    if baselines:
        sections.append(("The winner against the peers' defaults", versus(job, winner, baselines)))
    sections.append(("Search space", space_text(job)))
    sections += found.sections
    for name, spec in swept(job.specs).items():
        if name in task.labels and isinstance(spec, sp.choice):
            sections.append((f"Best per {name}", best_by(found, name)))
    shown = [rows[i] for i in order[:TOP]]
    sections.append((f"Top {len(shown)} settings", report.markdown_table(shown, found.columns)))
    figures = list(found.figures)
    if range_test is not None:
        sections.append(("Learning-rate range test", range_test[0]))
        figures.append(("Range test", range_test[1]))
    report.write_csv(job.out / "results.csv", [rows[i] for i in order])
    sections.append(("Files", "`results.csv`: every setting, best first.\n"))
    return report.write(job.out, f"lrjax sweep: {task.name}", sections, figures)


def summary(job: Any, found: Any, winner: Scored, seconds: float, devices: list) -> str:
    """What ran, how long it took, and the winner with its tests."""
    task, options = job.task, job.options
    rows = found.rows
    best = rows[found.order[0]]
    diverged = sum(bool(r["diverged"]) for r in rows)
    direction = "minimised" if task.mode == "min" else "maximised"
    text = (
        f"{task.description}\n\n"
        f"{len(rows)} settings ({_how(options)}, seed {options.seed}) trained"
        + (
            f" for {'up to ' if options.search == 'halving' else ''}{job.steps} steps"
            if job.steps
            else ""
        )
        + f" on {len(devices)} {devices[0].platform} device(s) in {seconds:.1f} s (compilation "
        f"included); {diverged} diverged. Score: {task.score}, {direction}.\n\n"
        f"**Best:** {winner.name}: {task.score} {best[task.score]:.4g}."
    )
    if found.how:
        text += f" {found.how}."
    tested = dict(winner.metrics)
    if task.score in tested and found.how:
        text += f" Trained from the start, it reaches {task.score} {tested.pop(task.score):.4g}."
    elif task.score in tested:
        again = tested.pop(task.score)
        text += (
            f" Trained again alone, it reaches {task.score} {again:.4g} (the search's value, "
            f"to {abs(again - best[task.score]):.1e})."
        )
    if tested:
        text += " Held out: " + ", ".join(f"{k} {v:.4g}" for k, v in tested.items()) + "."
    return text + "\n"


def versus(job: Any, winner: Scored, baselines: list[Scored]) -> str:
    """The winner and each baseline, trained again and tested, in one table, and how much
    better the winner's headline metric is."""
    name, mode = headline(job.task, winner)
    rows = [{"setting": f"winner: {winner.name}", **winner.metrics, f"winner vs it ({name})": ""}]
    for b in baselines:
        gain = change(winner.metrics[name], b.metrics.get(name, np.nan), mode)
        rows.append({"setting": b.name, **b.metrics, f"winner vs it ({name})": gain})
    others = [k for k in winner.metrics if k != name]
    columns = ["setting", name, *others, f"winner vs it ({name})"]
    return (
        f"Each setting trained again from the start and tested ({name} first, "
        f"{'lower' if mode == 'min' else 'higher'} is better).\n\n"
        + report.markdown_table(rows, columns)
    )


def space_text(job: Any) -> str:
    """Each dimension of the space in words."""
    lines = []
    for name, spec in sp.dimensions(job.specs).items():
        lines.append(f"- `{name}`: {sp.describe(spec, job.task.labels.get(name))}")
    return "\n".join(lines) + "\n"


def best_by(found: Any, field: str) -> str:
    """The best setting of each value of ``field``."""
    seen, best = set(), []
    for i in found.order:
        if found.rows[i][field] not in seen:
            seen.add(found.rows[i][field])
            best.append(found.rows[i])
    return report.markdown_table(best, found.columns)


def _how(options: Any) -> str:
    if options.search == "bayes":
        return f"Optuna TPE in rounds of {options.round_size}"
    if options.search in ("halving", "pbt"):
        search = {"halving": "successive halving", "pbt": "PBT"}[options.search]
        return f"{options.sampler} sampler, then {search}"
    return f"{options.sampler} sampler"
