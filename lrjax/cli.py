"""``lrjax sweep`` (also ``python -m lrjax``): the command line of the main job.

Reads the options from the command line, a TOML or JSON file (``--config``; the keys are
the option names with underscores, plus a ``[space]`` table of hyperparameters and a
``[task]`` table of the task's own options), or both (the command line wins), checks
them, and hands them to `lrjax.job.sweep`, which loads the task (``--task``: digits by
default, cartpole, charlm, or the user's ``module:attribute`` / ``file.py:attribute``),
searches its space, tests the winner and writes the report. Bad options exit with status
2 and one line on stderr, before any training where they can be known then.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SAMPLERS = ("grid", "random", "halton")
SEARCHES = ("sample", "halving", "pbt", "bayes")
SEED_MAX = 2**32 - 1
"""The largest seed: ``--search bayes`` seeds Optuna's TPE sampler, whose NumPy
``RandomState`` takes [0, 2**32 - 1] (one range for every search, so a seed that works
with one works with all)."""
STEPS_MAX = 2**31 - 1
"""The most steps: the optimizers' int32 update count saturates there."""


def _integer(name: str, value: Any, low: int) -> int:
    """A count option as an int, or `ValueError` naming it: an int >= ``low``; a bool
    (``true`` in a config file), a float (``100.0``) or a string is refused."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


@dataclasses.dataclass
class Config:
    """The job's options. ``steps`` and ``seed`` go to the task where given (the seed
    also seeds the samplers; 0 when not given). ``None`` means the task's default
    (`lrjax.sweep.task.Task` ``defaults``, else the global one: grid sampler, 3 grid
    points per continuous dimension, a population of 64 for the random samplers,
    ``--search sample``)."""

    task: str = "digits"
    steps: int | None = None
    seed: int | None = None
    out: str = "lrjax_report"
    sampler: str | None = None
    population: int | None = None
    points: int | None = None
    eval_every: int | None = None
    chunk_size: int | None = None
    range_test: bool = True
    quiet: bool = False
    search: str | None = None
    trials: int = 64
    round_size: int = 16
    storage: str | None = None
    keep: float = 1 / 3
    space: dict = dataclasses.field(default_factory=dict)
    task_options: dict = dataclasses.field(default_factory=dict)

    def check(self) -> Config:
        """Validate every option's kind and range, or raise `ValueError` naming the
        option, its value and what is allowed (a config file can hold anything: an int
        where a count is meant, never a bool or a float; a real true/false for a switch;
        a string for a name or a path), the relations between options, and the Optuna
        storage (`lrjax.sweep.bayes.check_storage`). The space and the task's options are
        checked where the task is loaded (`lrjax.job.prepare`)."""
        from lrjax.sweep import bayes

        if not isinstance(self.task, str) or not self.task:
            raise ValueError(f"task must be a name or module:attribute, got {self.task!r}")
        if self.steps is not None:
            _integer("steps", self.steps, 1)
            if self.steps > STEPS_MAX:
                raise ValueError(
                    f"steps must be at most 2**31 - 1 = {STEPS_MAX} (the optimizers' int32 "
                    f"step count saturates there), got {self.steps}"
                )
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {self.seed!r}")
        if self.seed is not None and not 0 <= self.seed <= SEED_MAX:
            raise ValueError(
                f"seed must be in [0, 2**32 - 1] (the seeds Optuna's TPE sampler takes), "
                f"got {self.seed}"
            )
        for name in ("population", "points", "eval_every", "chunk_size"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        for name in ("range_test", "quiet"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.out, str) or not self.out:
            raise ValueError(f"out must be a folder's path (a string), got {self.out!r}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ValueError(f"out {self.out!r} is a file, not a folder")
        if self.search is not None and self.search not in SEARCHES:
            raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {self.search!r}")
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        _integer("trials", self.trials, 1)
        _integer("round_size", self.round_size, 1)
        if isinstance(self.keep, bool) or not isinstance(self.keep, (int, float)):
            raise ValueError(f"keep must be a number in (0, 1), got {self.keep!r}")
        if not 0 < self.keep < 1:
            raise ValueError(f"keep must be in (0.0, 1.0), got {self.keep!r}")
        for name in ("space", "task_options"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a table, got {getattr(self, name)!r}")
        if self.eval_every is not None and self.steps is not None and self.eval_every > self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) exceeds steps ({self.steps})")
        if self.storage is not None:
            if not isinstance(self.storage, str) or not self.storage:
                raise ValueError(
                    f"storage must be an SQLite file's path or an Optuna storage URL (a "
                    f"string), got {self.storage!r}"
                )
            if self.search != "bayes":
                raise ValueError(
                    f"storage is for --search bayes only, got search {self.search!r} "
                    f"with storage {self.storage!r}"
                )
            bayes.check_storage(self.storage)
        return self


FILE_KEYS = {"task": "task_options"}
"""Config-file tables stored under another option's name: ``[task]`` holds the task's
options (the ``task`` key itself names the task)."""


def load_config(path: str | Path) -> dict[str, Any]:
    """The options in a TOML (``.toml``) or JSON file, as a dict checked for unknown keys.
    A ``[task]`` table holds the task's own options (``task = "name"`` names the task; a
    table ``task = {name = ..., ...}`` is both)."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError as e:  # Python 3.10
            raise ValueError("TOML configs need Python 3.11 or newer; use JSON") from e
        data = tomllib.loads(text)
    elif path.suffix == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"config must be a .toml or .json file, got {str(path)!r}")
    if not isinstance(data, dict):
        raise ValueError(f"config {str(path)!r} must hold a table of options")
    if isinstance(data.get("task"), dict):
        table = dict(data.pop("task"))
        if "name" in table:
            data["task"] = table.pop("name")
        data["task_options"] = table
    known = {f.name for f in dataclasses.fields(Config)} - {"task_options"}
    unknown = sorted(set(data) - known - {"task_options"})
    if unknown:
        raise ValueError(
            f"unknown option {unknown[0]!r} in {str(path)!r}; known: {', '.join(sorted(known))}"
        )
    return data


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # `main` prints it as one line, without the usage block
        raise ValueError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="lrjax sweep",
        description="Sweep a task's hyperparameters (learning rates, schedules, optimizers) "
        "as vmapped programs, test the winner and write a report.",
    )
    p.add_argument(
        "--task",
        help="digits (default), cartpole, charlm, or module:attribute / file.py:attribute "
        "naming a lrjax.sweep.task.Task or a function returning one",
    )
    p.add_argument("--config", help="TOML or JSON file of options, [space] and [task] tables")
    p.add_argument(
        "--space",
        action="append",
        metavar="NAME=VALUE",
        help='one hyperparameter of the space, the value in JSON: peak={"log_uniform": '
        '[1e-4, 1]}, optimizer=["adam", "sgd"], b2=0.999 (repeatable)',
    )
    p.add_argument(
        "--option",
        action="append",
        metavar="NAME=VALUE",
        help="one option of the task, the value in JSON: batch=32 (repeatable)",
    )
    p.add_argument("--steps", type=int, help="training steps per member (default: the task's)")
    p.add_argument("--population", type=int, help="members in all (grid: at most)")
    p.add_argument("--points", type=int, help="grid points per continuous hyperparameter")
    p.add_argument("--seed", type=int, help="seed of the task and the sampler")
    p.add_argument("--out", help="report folder (default lrjax_report)")
    p.add_argument("--sampler", help="grid, random or halton (default: the task's)")
    p.add_argument("--eval-every", type=int, help="steps between evaluations (and PBT rounds)")
    p.add_argument("--chunk-size", type=int, help="members trained at once")
    p.add_argument("--no-range-test", dest="range_test", action="store_false", default=None)
    p.add_argument("--quiet", action="store_true", default=None, help="no progress output")
    p.add_argument(
        "--search",
        help="sample (train the sampler's population), halving (successive halving of "
        "it), pbt (population-based training from it) or bayes (Optuna TPE, in rounds)",
    )
    p.add_argument("--keep", type=float, help="halving: the fraction kept at a rung (1/3)")
    p.add_argument("--trials", type=int, help="bayes: trials in all (default 64)")
    p.add_argument("--round-size", type=int, help="bayes: trials trained per round (default 16)")
    p.add_argument("--storage", help="bayes: an SQLite file for the study, to resume after a crash")
    return p


def _pairs(option: str, items: list[str] | None) -> dict[str, Any]:
    """``NAME=VALUE`` items as a dict, each value parsed as JSON."""
    out = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--{option} takes NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(
                f"--{option} {name.strip()}: the value must be JSON (strings in double "
                f"quotes), got {text!r}"
            ) from None
    return out


def config_from_args(argv: Sequence[str]) -> Config:
    args = vars(parser().parse_args(argv))
    options = load_config(args.pop("config")) if args.get("config") else {}
    for name in ("space", "task_options"):
        if not isinstance(options.get(name, {}), dict):
            raise ValueError(f"{name} must be a table, got {options[name]!r}")
    space = {**options.pop("space", {}), **_pairs("space", args.pop("space"))}
    task_options = {**options.pop("task_options", {}), **_pairs("option", args.pop("option"))}
    options.update({k: v for k, v in args.items() if v is not None})
    return Config(**options, space=space, task_options=task_options).check()


def main(argv: Sequence[str] | None = None) -> int:
    from lrjax import job

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sweep"]:
        argv = argv[1:]
    try:
        report = job.sweep(config_from_args(argv))
    except (ValueError, OSError) as e:
        print(f"lrjax sweep: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(
            f"lrjax sweep: error: {e}; install the task's extra (lrjax[demo], [rl], [frameworks])",
            file=sys.stderr,
        )
        return 2
    print(f"report: {report}")
    return 0
