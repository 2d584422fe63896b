"""``lrjax sweep`` (also ``python -m lrjax``): the main job.

Trains a small MLP on scikit-learn's digits over a sweep of schedule families x
optimizers x peak learning rates, all members as one vmapped, jitted program
(`lrjax.sweep.run` on `lrjax.sweep.digits`), or searches that space by successive
halving, PBT or Optuna (``--search``); runs a learning-rate range test for the winning
optimizer, retrains the winner alone (PBT: re-evaluates its final state) to report its
test accuracy, and writes a report folder: ``report.md``, ``results.csv`` and PNG plots.

Options come from the command line, from a TOML or JSON file (``--config``; the keys are
the option names with underscores), or both (the command line wins). Bad options exit
with status 2 and one line on stderr: every option's kind and range, the Optuna
storage, and the memory the job needs (`memory_estimate`) are checked before any work
starts (`Config.check`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

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
    """What to sweep. The space is ``schedules`` x ``optimizers`` x peak rates in
    [lr_min, lr_max] (log scale): with the grid sampler, ``lr_points`` rates per
    (schedule, optimizer) pair, or as many as ``population`` allows; with the random and
    Halton samplers, ``population`` members drawn from the whole space."""

    steps: int = 500
    population: int | None = None
    seed: int = 0
    out: str = "lrjax_report"
    sampler: str = "grid"
    schedules: list[str] = dataclasses.field(
        default_factory=lambda: ["constant", "step", "cosine", "warmup_cosine", "one_cycle", "wsd"]
    )
    optimizers: list[str] = dataclasses.field(
        default_factory=lambda: ["sgd", "momentum", "rmsprop", "adam"]
    )
    lr_min: float = 1e-4
    lr_max: float = 3.0
    lr_points: int = 10
    batch: int = 64
    eval_every: int | None = None
    chunk_size: int | None = None
    range_test: bool = True
    quiet: bool = False
    search: str = "sample"
    trials: int = 64
    round_size: int = 16
    storage: str | None = None
    keep: float = 1 / 3

    def check(self) -> Config:
        """Validate every option before any work starts, or raise `ValueError` naming
        the option, its value and what is allowed: the kind of each (a config file can
        hold anything: an int where a count is meant, never a bool or a float; a real
        true/false for a switch; a string for a name or a path), ranges (the seed's
        range is TPE's, `SEED_MAX`; steps up to `STEPS_MAX`; a batch no larger than
        the training split), the relations between options, the Optuna storage
        (`lrjax.sweep.bayes.check_storage`), and the memory the job needs
        (`memory_estimate`) against this machine's."""
        from lrjax.sweep import bayes, digits

        _integer("steps", self.steps, 10)
        if self.steps > STEPS_MAX:
            raise ValueError(
                f"steps must be at most 2**31 - 1 = {STEPS_MAX} (the optimizers' int32 step "
                f"count saturates there), got {self.steps}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {self.seed!r}")
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(
                f"seed must be in [0, 2**32 - 1] (the seeds Optuna's TPE sampler takes), "
                f"got {self.seed}"
            )
        _integer("lr_points", self.lr_points, 1)
        _integer("batch", self.batch, 1)
        train = digits.split_sizes()[0]
        if self.batch > train:
            raise ValueError(
                f"batch must be at most the training split's {train} rows, got {self.batch}"
            )
        for name in ("population", "eval_every", "chunk_size"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        for name in ("range_test", "quiet"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.out, str) or not self.out:
            raise ValueError(f"out must be a folder's path (a string), got {self.out!r}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ValueError(f"out {self.out!r} is a file, not a folder")
        if self.search not in SEARCHES:
            raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {self.search!r}")
        _integer("trials", self.trials, 1)
        _integer("round_size", self.round_size, 1)
        if isinstance(self.keep, bool) or not isinstance(self.keep, (int, float)):
            raise ValueError(f"keep must be a number in (0, 1), got {self.keep!r}")
        if not 0 < self.keep < 1:
            raise ValueError(f"keep must be in (0.0, 1.0), got {self.keep!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        for name, known in (("schedules", digits.SCHEDULES), ("optimizers", digits.DIRECTIONS)):
            values = getattr(self, name)
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str) for v in values)
            ):
                raise ValueError(f"{name} must be a non-empty list of names, got {values!r}")
            unknown = [v for v in values if v not in known]
            if unknown:
                raise ValueError(
                    f"unknown {name[:-1]} {unknown[0]!r}; choose from {', '.join(known)}"
                )
            if len(set(values)) != len(values):
                raise ValueError(f"{name} lists a name twice: {values}")
        for name in ("lr_min", "lr_max"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value < float("inf")
            ):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not self.lr_min < self.lr_max:
            raise ValueError(f"lr_min ({self.lr_min}) must be below lr_max ({self.lr_max})")
        cells = len(self.schedules) * len(self.optimizers)
        if self.sampler == "grid" and self.population is not None and self.population < cells:
            raise ValueError(
                f"population {self.population} is smaller than the grid's "
                f"{len(self.schedules)} schedules x {len(self.optimizers)} optimizers "
                f"= {cells} cells"
            )
        if self.eval_every is not None and self.eval_every > self.steps:
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
        _check_memory(self)
        return self


def members(config: Config) -> int:
    """Settings the job trains in all: the sampler's population (the grid: ``lr_points``
    rates per (schedule, optimizer) cell, or ``population`` rounded down to whole cells),
    or ``trials`` for ``--search bayes``."""
    if config.search == "bayes":
        return config.trials
    cells = len(config.schedules) * len(config.optimizers)
    if config.sampler == "grid":
        points = config.lr_points if config.population is None else config.population // cells
        return points * cells
    return config.population or cells * config.lr_points


_STATE_COPIES = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}
"""Copies of the parameters that each optimizer's state holds (a momentum, moments)."""


class Memory(NamedTuple):
    """`memory_estimate`'s figures: members in all and trained at once, and bytes per
    member kept for the whole job, per member while it trains, and shared."""

    members: int
    at_once: int
    per_member: int
    per_trained: int
    shared: int

    @property
    def total(self) -> int:
        return self.members * self.per_member + self.at_once * self.per_trained + self.shared


def memory_estimate(config: Config) -> Memory:
    """The bytes the job needs, roughly, from its options alone (before any work), so
    that a population, grid or step count that cannot fit is refused at once rather than
    ending in an out-of-memory kill or a `MemoryError` minutes in. Three parts:

    - per member of the job (kept until the report is written): its training loss and
      learning rate at every step, float32, held twice while the segments are
      concatenated, 16 x steps bytes; its two evaluations (validation loss and error)
      likewise, 16 x evaluations; 8 for its heat-map cell; 1 KiB for its row and
      hyperparameters.
    - per member trained at once (``chunk_size``, ``round_size``, else the whole
      population; halving and PBT train the whole population together): the MLP's P
      parameters (4,810 for 64-64-10) x (4 + S) float32 copies (parameters, gradient,
      update, new parameters, and S for the optimizer states: each member holds the
      state of every listed optimizer, sgd 0 copies, adam 2, the others 1); the
      activations over the layer widths (64 + 64 + 10 numbers a row) of a batch three
      times (forward, backward, gradient) and of the validation split once, float32;
      its segment's loss and rate records, 8 x steps.
    - shared: the batch indices, steps x batch x 12 bytes (int64 on the host, int32 on
      the device), and the heat map's (optimizer, schedule, rate) cells, 8 bytes each.

    It is compared with the host's memory: a CPU backend holds all of it (on a GPU the
    per-trained part is on the device instead, where JAX reports its own
    out-of-memory error). Left out: what does not grow with the options (JAX, the
    compiled programs, the data set: well under 1 GB)."""
    from lrjax.sweep import digits

    n = members(config)
    if config.search == "bayes":
        at_once = min(config.round_size, n, config.chunk_size or n)
    elif config.search == "sample":
        at_once = min(config.chunk_size or n, n)
    else:
        at_once = n
    sizes = digits.SIZES
    params = sum(m * k + k for m, k in zip(sizes[:-1], sizes[1:], strict=True))
    states = sum(_STATE_COPIES.get(name, 2) for name in config.optimizers)
    val_rows = digits.split_sizes()[1]
    evals = -(-config.steps // _eval_every(config))
    per_member = 16 * config.steps + 16 * evals + 8 + 1024
    activations = (3 * config.batch + val_rows) * sum(sizes)
    per_trained = 4 * (params * (4 + states) + activations) + 8 * config.steps
    cells = len(config.schedules) * len(config.optimizers)
    shared = 12 * config.steps * config.batch + 8 * cells * config.lr_points
    return Memory(n, at_once, per_member, per_trained, shared)


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf, or no such name
        return None


def _size(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{int(n)} B"


def _check_memory(config: Config) -> None:
    """`ValueError` when `memory_estimate` exceeds `machine_memory`, saying both, the
    options that set the size, and how many members (at these steps) or steps (with
    these members) would fit."""
    memory = machine_memory()
    need = memory_estimate(config)
    if memory is None or need.total <= memory:
        return
    if config.search == "bayes":
        source = f"trials {config.trials}"
    elif config.population is not None:
        source = f"population {config.population}"
    else:
        cells = len(config.schedules) * len(config.optimizers)
        source = f"lr_points {config.lr_points} x {cells} (schedule, optimizer) cells"
    free = memory - need.shared
    if need.at_once < need.members:  # chunked: the members trained at once stay as many
        fit = (free - need.at_once * need.per_trained) // need.per_member
    else:
        fit = free // (need.per_member + need.per_trained)

    def fits(steps: int) -> bool:
        every = None if config.eval_every is None else min(config.eval_every, steps)
        shorter = dataclasses.replace(config, steps=steps, eval_every=every)
        return memory_estimate(shorter).total <= memory

    low, high = 10, config.steps  # the most steps that fit with these members
    if not fits(low):
        low = 0
    while low and low < high:  # the estimate grows with the steps: bisect
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    hints = []
    if fit >= 1:
        hints.append(f"at most {fit} members fit at {config.steps} steps")
    if low >= 10:
        hints.append(f"at most {low} steps fit with {need.members} members")
    raise ValueError(
        f"{source} ({need.members} members) x steps {config.steps} (batch {config.batch}) "
        f"needs about {_size(need.total)} of memory, more than this machine's "
        f"{_size(memory)}: {' or '.join(hints) or 'lower the members and the steps'} "
        f"(estimate: {_size(need.per_member)} per member, {_size(need.per_trained)} per "
        f"member trained at once ({need.at_once}), {_size(need.shared)} shared)"
    )


def load_config(path: str | Path) -> dict[str, Any]:
    """The options in a TOML (``.toml``) or JSON file, as a dict checked for unknown keys."""
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
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(data) - known)
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
        description="Sweep schedule families x optimizers x peak learning rates on the digits "
        "MLP as one vmapped program, and write a report.",
    )
    p.add_argument("--config", help="TOML or JSON file of options (names with underscores)")
    p.add_argument("--steps", type=int, help="training steps per member (default 500)")
    p.add_argument("--population", type=int, help="members in all (default: the full grid, 240)")
    p.add_argument("--seed", type=int, help="seed of the sampler, weights and batches")
    p.add_argument("--out", help="report folder (default lrjax_report)")
    p.add_argument("--sampler", help="grid, random or halton (default grid)")
    p.add_argument("--schedules", type=_names, help="comma-separated schedule families")
    p.add_argument("--optimizers", type=_names, help="comma-separated optimizers")
    p.add_argument("--lr-min", type=float, help="smallest peak rate (default 1e-4)")
    p.add_argument("--lr-max", type=float, help="largest peak rate (default 3)")
    p.add_argument("--lr-points", type=int, help="grid rates per cell (default 10)")
    p.add_argument("--batch", type=int, help="minibatch size (default 64)")
    p.add_argument("--eval-every", type=int, help="steps between validations (and PBT rounds)")
    p.add_argument("--chunk-size", type=int, help="members trained at once")
    p.add_argument("--no-range-test", dest="range_test", action="store_false", default=None)
    p.add_argument("--quiet", action="store_true", default=None, help="no progress output")
    p.add_argument(
        "--search",
        help="sample (train the --sampler's population, default), halving (successive "
        "halving of that population), pbt (population-based training from it) or bayes "
        "(Optuna TPE, in rounds)",
    )
    p.add_argument("--keep", type=float, help="halving: the fraction kept at a rung (1/3)")
    p.add_argument("--trials", type=int, help="bayes: trials in all (default 64)")
    p.add_argument("--round-size", type=int, help="bayes: trials trained per round (default 16)")
    p.add_argument("--storage", help="bayes: an SQLite file for the study, to resume after a crash")
    return p


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def config_from_args(argv: Sequence[str]) -> Config:
    args = vars(parser().parse_args(argv))
    options = load_config(args.pop("config")) if args.get("config") else {}
    options.update({k: v for k, v in args.items() if v is not None and k != "config"})
    return Config(**options).check()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sweep"]:
        argv = argv[1:]
    try:
        config = config_from_args(argv)
        report = sweep(config)
    except (ValueError, OSError) as e:
        print(f"lrjax sweep: error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:
        print(f"lrjax sweep: error: {e}; install lrjax[demo]", file=sys.stderr)
        return 2
    print(f"report: {report}")
    return 0


# --------------------------------------------------------------------------------------
# The job


def specs(config: Config) -> dict:
    """The search space: family and optimizer indices and the peak rate (log scale)."""
    from lrjax.sweep import space as sp

    return {
        "family": sp.choice(list(range(len(config.schedules)))),
        "optimizer": sp.choice(list(range(len(config.optimizers)))),
        "peak": sp.log_uniform(config.lr_min, config.lr_max),
    }


def space(config: Config) -> dict:
    """The population: family and optimizer indices and peak rates, as arrays."""
    from lrjax.sweep import space as sp

    specs_ = specs(config)
    cells = len(config.schedules) * len(config.optimizers)
    if config.sampler == "grid":
        points = config.lr_points if config.population is None else config.population // cells
        return sp.grid(specs_, {"peak": points})
    n = config.population or cells * config.lr_points
    sampler = sp.random if config.sampler == "random" else sp.halton
    return sampler(specs_, n, seed=config.seed)


class Found(NamedTuple):
    """What a search found, for the report: one row per setting, the order to rank them
    (best first), the winner's validation and test metrics, a sentence on how those were
    obtained, and the search's own sections, figures and table columns."""

    rows: list[dict]
    order: list[int]
    winner: dict
    check: str
    sections: list
    figures: list
    columns: list[str]


def sweep(config: Config) -> Path:
    """Run the job described by ``config`` and write its report; returns report.md."""
    import jax

    from lrjax import report
    from lrjax.sweep import digits

    config.check()  # a Config built in Python meets the command line's checks too
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    data = digits.load(config.seed)
    task = digits.task(
        data,
        config.steps,
        schedules=config.schedules,
        optimizers=config.optimizers,
        batch=config.batch,
        seed=config.seed,
    )
    say = (lambda *a: None) if config.quiet else (lambda *a: print(*a, file=sys.stderr))
    search = {"sample": _sample, "bayes": _bayes, "halving": _halving, "pbt": _pbt}
    t0 = time.perf_counter()
    found = search[config.search](config, task, data, out, say)
    seconds = time.perf_counter() - t0
    rows, order = found.rows, found.order
    best = rows[order[0]]
    initial = float(task.evaluate((task.params, None), _hp(config, best))["val_loss"])

    summary = _summary(config, found, initial, seconds, jax.devices())
    sections = [
        ("Summary", summary),
        *found.sections,
        ("Best per optimizer", _best_by(found, "optimizer")),
        ("Best per schedule", _best_by(found, "schedule")),
        ("Top 15 settings", report.markdown_table([rows[i] for i in order[:15]], found.columns)),
    ]
    figures = list(found.figures)
    if config.range_test:
        say("lrjax sweep: range test")
        text, figure = _range_test(config, task, data, best["optimizer"], out)
        sections.append(("Learning-rate range test", text))
        figures.append(("Range test", figure))
    report.write_csv(out / "results.csv", [rows[i] for i in order])
    sections.append(("Files", "`results.csv`: every setting, best first.\n"))
    path = report.write(out, "lrjax sweep: digits MLP", sections, figures)
    print(
        f"best: {best['optimizer']} + {best['schedule']} at peak {best['peak']:.3g}: val loss "
        f"{best['final_val_loss']:.4f}, test accuracy {found.winner['test_accuracy']:.4f}"
    )
    return path


def _hp(config: Config, row: dict) -> dict:
    """A report row's setting as the task's hyperparameters."""
    import jax.numpy as jnp

    return {
        "family": jnp.asarray(config.schedules.index(row["schedule"])),
        "optimizer": jnp.asarray(config.optimizers.index(row["optimizer"])),
        "peak": jnp.asarray(row["peak"], jnp.float32),
    }


def _ranked(rows: list[dict], key=None) -> list[int]:
    """Row indices, best first by ``key``: by default the members that did not diverge
    (see `_rows`), by final validation loss (non-finite last), then the diverged ones, so
    a diverged member is never the winner while another is left."""
    if key is None:
        key = lambda row: (row["diverged"], _key(row["final_val_loss"]))  # noqa: E731
    return sorted(range(len(rows)), key=lambda i: key(rows[i]))


def _sweep_figures(config, result, rows, order, out) -> list:
    return [
        (
            "Final validation loss over peak rate x schedule",
            _heatmap(config, rows, out / "heatmap.png"),
        ),
        ("Learning-rate schedules", _lr_plot(config, result, rows, order, out / "lr_curves.png")),
        (
            "Loss curves of the best setting of each optimizer",
            _loss_plot(config, result, rows, order, out / "loss_curves.png"),
        ),
    ]


def _retrained(config, task, data, rows, order) -> tuple[dict, str]:
    best = rows[order[0]]
    winner = _retrain(task, data, _hp(config, best))
    return winner, (
        f"Retrained alone, it reaches validation loss {winner['val_loss']:.4f} (the search's "
        f"value, to {abs(winner['val_loss'] - best['final_val_loss']):.1e})"
    )


def _sample(config: Config, task, data, out: Path, say) -> Found:
    """Every member of the sampler's population, trained as one vmapped program."""
    from lrjax.sweep import run

    hp = space(config)
    say(f"lrjax sweep: {len(hp['peak'])} members x {config.steps} steps")
    result = run(
        task.init,
        task.step,
        hp,
        task.batches,
        evaluate=task.evaluate,
        eval_every=_eval_every(config),
        chunk_size=config.chunk_size,
        progress=not config.quiet,
    )
    rows = _rows(config, result)
    order = _ranked(rows)
    winner, check = _retrained(config, task, data, rows, order)
    figures = _sweep_figures(config, result, rows, order, out)
    return Found(rows, order, winner, check, [], figures, COLUMNS)


def _eval_every(config: Config) -> int:
    return config.eval_every or max(1, config.steps // 10)


def _score(task):
    """Validation loss as a population search's score (lower is better)."""
    return lambda carry, hp: task.evaluate(carry, hp)["val_loss"]


def rungs(config: Config) -> list[int]:
    """Successive halving's rung ends: steps * keep**2, steps * keep, steps."""
    ends = [max(1, round(config.steps * config.keep**k)) for k in (2, 1, 0)]
    return sorted(set(ends))


def _halving(config: Config, task, data, out: Path, say) -> Found:
    """Successive halving over the sampler's population: everyone trains to the first
    rung, the best `keep` fraction (by validation loss) continues, and so on."""
    from lrjax import plot
    from lrjax.sweep import successive_halving

    hp = space(config)
    n, ends = len(hp["peak"]), rungs(config)
    say(f"lrjax sweep: successive halving of {n} members, rungs at {ends} steps")
    found = successive_halving(
        task.init, task.step, hp, task.batches, ends, keep=config.keep, score=_score(task)
    )
    reached, last = np.zeros(n, int), np.full(n, np.nan)
    per_rung = np.full((n, len(ends)), np.nan)
    for r, (alive, scores) in enumerate(zip(found.survivors, found.scores, strict=True)):
        reached[alive], last[alive], per_rung[alive, r] = ends[r], scores, scores
    rows = [
        {
            **_setting(config, hp, i),
            "steps": int(reached[i]),
            "final_val_loss": float(last[i]),
            "diverged": not np.isfinite(last[i]),  # no training-loss record: the score's
        }
        for i in range(n)
    ]
    ranked = _ranked(
        rows, lambda row: (row["diverged"], -row["steps"], _key(row["final_val_loss"]))
    )
    if not rows[found.best]["diverged"]:  # ties: halving's pick
        ranked = [found.best, *(i for i in ranked if i != found.best)]
    order = ranked
    winner, check = _retrained(config, task, data, rows, order)
    starts = [0, *ends[:-1]]
    used = sum(len(a) * (b - a0) for a, a0, b in zip(found.survivors, starts, ends, strict=True))
    text = (
        f"{n} settings, rungs ending at {', '.join(map(str, ends))} steps, the best "
        f"{config.keep:.3g} (by validation loss) continuing from where they stopped: "
        f"{' -> '.join(str(len(a)) for a in found.survivors)} settings per rung, "
        f"{used} member-steps, {used / (n * config.steps):.0%} of training all {n} to the end.\n"
    )
    figures = [
        (
            "Validation loss at each rung",
            plot.paths(
                out / "halving.png",
                np.asarray(ends),
                per_rung,
                highlight=per_rung[found.best],
                label=_label(rows[found.best]),
                title="successive halving: validation loss at each rung (grey: every setting)",
                xlabel="steps",
                ylabel="validation loss",
            ),
        ),
        (
            "Validation loss over peak rate x schedule (at the last rung each setting reached)",
            _heatmap(config, rows, out / "heatmap.png"),
        ),
    ]
    return Found(rows, order, winner, check, [("Successive halving", text)], figures, HALVING)


def _pbt(config: Config, task, data, out: Path, say) -> Found:
    """Population-based training from the sampler's population: every `eval_every`
    steps the worst quarter (by validation loss) copies the state of a member of the best
    quarter and perturbs its peak rate by 0.8 or 1.25."""
    import jax
    import jax.numpy as jnp

    from lrjax import plot
    from lrjax.sweep import digits, pbt

    hp = space(config)
    n, every = len(hp["peak"]), _eval_every(config)
    say(f"lrjax sweep: PBT of {n} members, exploit/explore every {every} steps")
    found = pbt(
        task.init,
        task.step,
        hp,
        task.batches,
        ready_every=every,
        seed=config.seed,
        score=_score(task),
    )
    final = found.scores[-1]
    rows = []
    for i in range(n):
        start = found.lineage(i)[0]
        rows.append(
            {
                **_setting(config, found.final_hparams, i),
                "start_peak": float(found.hparams[0]["peak"][start]),
                "final_val_loss": float(final[i]),
                "diverged": not np.isfinite(final[i]),  # no training-loss record: the score's
            }
        )
    order = _ranked(rows)
    best = order[0]
    params = jax.tree.map(lambda x: x[best], found.carry[0])
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    metrics = task.evaluate((params, None), _hp(config, rows[best]))
    winner = {
        **{k: float(v) for k, v in metrics.items()},
        "test_loss": float(digits.loss(params, x_test, y_test)),
        "test_accuracy": float(digits.accuracy(params, x_test, y_test)),
    }
    check = (
        f"Its peak rate changed during training, so no single setting retrains it; its final "
        f"state, evaluated again, gives validation loss {winner['val_loss']:.4f} (the "
        f"search's value, to {abs(winner['val_loss'] - rows[best]['final_val_loss']):.1e})"
    )
    lineage = found.lineage(best)
    peaks = np.array([h["peak"] for h in found.hparams])  # (rounds, members)
    path = peaks[np.arange(len(lineage)), lineage]
    ends = np.minimum(np.arange(1, len(peaks) + 1) * every, config.steps)
    copies = sum(int((p != np.arange(n)).sum()) for p in found.parents)
    text = (
        f"{n} settings trained together for {config.steps} steps; after every {every} steps "
        f"the worst quarter by validation loss copied the state of one of the best quarter "
        f"and multiplied its peak rate by 0.8 or 1.25 ({copies} copies in {len(found.parents)} "
        f"rounds; schedule and optimizer are copied, never perturbed). The winner's peak rate "
        f"at each round: {' -> '.join(f'{p:.3g}' for p in path)}.\n"
    )
    figures = [
        (
            "Peak learning rates over PBT rounds",
            plot.paths(
                out / "pbt.png",
                ends,
                peaks.T,
                highlight=path,
                label=f"winner ({_label(rows[best])})",
                title="PBT: each member's peak rate (grey) and the winner's line of ancestors",
                xlabel="steps (the end of each PBT round)",
                ylabel="peak learning rate",
            ),
        )
    ]
    return Found(rows, order, winner, check, [("Population-based training", text)], figures, PBT)


def _setting(config: Config, hp: dict, i: int) -> dict:
    return {
        "schedule": config.schedules[int(hp["family"][i])],
        "optimizer": config.optimizers[int(hp["optimizer"][i])],
        "peak": float(hp["peak"][i]),
    }


def _label(row: dict) -> str:
    return f"{row['optimizer']} + {row['schedule']} @ {row['peak']:.2g}"


def _bayes(config: Config, task, data, out: Path, say) -> Found:
    """Optuna's TPE over `specs`, `round_size` trials per vmapped run."""
    import optuna

    from lrjax.sweep import bayes

    say(f"lrjax sweep: {config.trials} Optuna trials x {config.steps} steps")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the report says what it did
    found = bayes.search(
        task.init,
        task.step,
        specs(config),
        task.batches,
        evaluate=task.evaluate,
        objective="val_loss",
        trials=config.trials,
        batch_size=config.round_size,
        storage=config.storage,
        seed=config.seed,
        eval_every=_eval_every(config),
        chunk_size=config.chunk_size,
    )
    result = _concatenate(found.sweeps)
    rows = _rows(config, result)
    order = _ranked(rows)
    winner, check = _retrained(config, task, data, rows, order)
    figures = [
        ("Optimization history", _history(found, out / "history.png")),
        *_sweep_figures(config, result, rows, order, out),
    ]
    sections = [("Bayesian optimization", _bayes_text(config, found))]
    return Found(rows, order, winner, check, sections, figures, COLUMNS)


def _concatenate(sweeps):
    """The rounds of a search as one `SweepResult`, trials in order."""
    from lrjax.sweep.result import concatenate

    if not sweeps:
        raise ValueError("the study already holds every trial asked for; raise --trials")
    return concatenate(sweeps)


def _bayes_text(config: Config, found) -> str:
    rounds = found.rounds
    return (
        f"Optuna's TPE sampler (seed {config.seed}, constant liar) proposed {config.trials} "
        f"trials in rounds of {config.round_size}; each round trained as one vmapped program "
        f"and told Optuna the final validation loss. Best: {found.best_value:.4f}. Seconds "
        f"per round: first {rounds[0]:.2f} (compilation included), then median "
        f"{np.median(rounds[1:]) if len(rounds) > 1 else float('nan'):.2f}.\n"
    )


def _history(found, path: Path) -> Path:
    from lrjax import plot

    return plot.history(
        path,
        found.history,
        title="Optuna TPE: validation loss of each trial and the best so far",
        ylabel="final validation loss",
    )


COLUMNS = [
    "schedule",
    "optimizer",
    "peak",
    "final_val_loss",
    "best_val_loss",
    "final_val_accuracy",
    "final_train_loss",
]


HALVING = ["schedule", "optimizer", "peak", "steps", "final_val_loss"]
PBT = ["schedule", "optimizer", "start_peak", "peak", "final_val_loss"]


def _key(value: float) -> float:
    return value if np.isfinite(value) else np.inf


def _rows(config: Config, result) -> list[dict]:
    """One named row per member; the train loss is the mean over the last tenth;
    ``diverged`` is `SweepResult.diverged` (the training loss became non-finite at some
    step). Halving and PBT keep no training-loss record: their rows call a member
    diverged when its score, the validation loss, is not finite."""
    tail = max(1, result.losses.shape[1] // 10)
    with np.errstate(invalid="ignore", over="ignore"):
        train = result.losses[:, -tail:].mean(axis=1)
    rows = []
    for i in range(result.size):
        val = result.evals["val_loss"][i]
        finite = val[np.isfinite(val)]
        rows.append(
            {
                **_setting(config, result.hparams, i),
                "final_val_loss": float(val[-1]),
                "best_val_loss": float(finite.min()) if len(finite) else float("nan"),
                "final_val_accuracy": float(1 - result.evals["val_error"][i, -1]),
                "final_train_loss": float(train[i]),
                "diverged": bool(result.diverged[i]),
            }
        )
    return rows


def _retrain(task, data, hp) -> dict:
    """The winner trained alone (one jitted scan, no vmap): its validation loss checks
    the sweep's, its test metrics are the report's headline."""
    import jax
    import jax.numpy as jnp

    from lrjax.sweep import digits

    def train(hp):
        carry, _ = jax.lax.scan(lambda c, b: task.step(c, b, hp), task.init(hp), task.batches)
        p = carry[0]
        x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
        return {
            **task.evaluate(carry, hp),
            "test_loss": digits.loss(p, x_test, y_test),
            "test_accuracy": digits.accuracy(p, x_test, y_test),
        }

    return {k: float(v) for k, v in jax.jit(train)(hp).items()}


def _summary(config, found: Found, initial, seconds, devices) -> str:
    row, winner = found.rows[found.order[0]], found.winner
    failed = sum(r["diverged"] or not r["final_val_loss"] < initial for r in found.rows)
    return (
        f"{len(found.rows)} settings ({len(config.schedules)} schedule families x "
        f"{len(config.optimizers)} optimizers x peak rates in [{config.lr_min:g}, "
        f"{config.lr_max:g}], {_how(config)}, seed {config.seed}) trained for "
        f"{'up to ' if config.search == 'halving' else ''}{config.steps} steps of batch "
        f"{config.batch} on {len(devices)} {devices[0].platform} device(s) as "
        f"{_programs(config)} in {seconds:.1f} s (compilation included). {failed} settings "
        f"ended at or above the initial validation loss {initial:.3f}, or diverged.\n\n"
        f"**Best:** {row['optimizer']} with the {row['schedule']} schedule at peak rate "
        f"{row['peak']:.3g}: final validation loss {row['final_val_loss']:.4f}. "
        f"{found.check}, validation accuracy {1 - winner['val_error']:.4f}, test loss "
        f"{winner['test_loss']:.4f} and test accuracy {winner['test_accuracy']:.4f} on the "
        f"held-out test split.\n"
    )


def _programs(config: Config) -> str:
    if config.search == "bayes":
        return f"{-(-config.trials // config.round_size)} rounds of one vmapped program"
    if config.search == "halving":
        return "one vmapped program per rung"
    if config.search == "pbt":
        return "one vmapped program per PBT round"
    return "one vmapped program"


def _how(config: Config) -> str:
    if config.search == "bayes":
        return f"Optuna TPE in rounds of {config.round_size}"
    if config.search in ("halving", "pbt"):
        search = {"halving": "successive halving", "pbt": "PBT"}[config.search]
        return f"{config.sampler} sampler, then {search}"
    return f"{config.sampler} sampler"


def _best_by(found: Found, field: str) -> str:
    from lrjax import report

    seen, best = set(), []
    for i in found.order:
        if found.rows[i][field] not in seen:
            seen.add(found.rows[i][field])
            best.append(found.rows[i])
    return report.markdown_table(best, found.columns)


def _lr_centres(config: Config) -> np.ndarray:
    count = config.lr_points
    if config.sampler == "grid" and config.population is not None:
        count = config.population // (len(config.schedules) * len(config.optimizers))
    return np.geomspace(config.lr_min, config.lr_max, count)


def _heatmap(config, rows, path) -> Path:
    """Final validation loss per (optimizer, schedule, peak), each member put in the
    column of the nearest grid rate (log scale) and the best of a cell shown."""
    from lrjax import plot

    centres = _lr_centres(config)
    values = np.full((len(config.optimizers), len(config.schedules), len(centres)), np.nan)
    for row in rows:
        o = config.optimizers.index(row["optimizer"])
        s = config.schedules.index(row["schedule"])
        c = int(np.argmin(np.abs(np.log(centres) - np.log(row["peak"]))))
        v = row["final_val_loss"]
        if np.isfinite(v) and not v >= values[o, s, c]:
            values[o, s, c] = v
    return plot.heatmap(
        path,
        values,
        lrs=centres,
        rows=config.schedules,
        panels=config.optimizers,
        title="final validation loss (lower is better; x = diverged or not sampled)",
        label="validation loss",
    )


def _lr_plot(config, result, rows, order, path) -> Path:
    """Each schedule family's rate curve at its best peak."""
    from lrjax import plot

    curves = {}
    for i in order:
        curves.setdefault(rows[i]["schedule"], result.lrs[i])
    curves = {name: curves[name] for name in config.schedules if name in curves}
    return plot.curves(
        path,
        curves,
        title="learning rate per step (each family at its best peak rate)",
        ylabel="learning rate",
        log=True,
    )


def _loss_plot(config, result, rows, order, path) -> Path:
    from lrjax import plot

    train, val, done = {}, {}, set()
    for i in order:
        row = rows[i]
        if row["diverged"] or not np.isfinite(row["final_val_loss"]) or row["optimizer"] in done:
            continue
        done.add(row["optimizer"])
        label = f"{row['optimizer']} + {row['schedule']} @ {row['peak']:.2g}"
        train[label] = result.losses[i]
        val[label] = result.evals["val_loss"][i]
    return plot.loss_curves(
        path, train, val, result.eval_steps, title="best setting of each optimizer"
    )


def _range_test(config, task, data, optimizer: str, out: Path) -> tuple[str, Path]:
    """Smith's range test (fastai's settings) for ``optimizer`` on the same MLP, and a
    check that training at the valley suggestion with a constant rate converges."""
    import jax.numpy as jnp
    import optax

    from lrjax import finder, plot
    from lrjax.sweep import digits
    from lrjax.transforms import scale_by_learning_rate

    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    idx = digits.batch_indices(len(x), 200, config.batch, config.seed + 2)
    direction = digits.DIRECTIONS[optimizer]
    test = finder.range_test(
        lambda p, b: digits.loss(p, x[b], y[b]),
        lambda lr: optax.chain(direction(), scale_by_learning_rate(lr)),
        task.params,
        jnp.asarray(idx),
        start_lr=1e-6,
        end_lr=10.0,
    )
    rules = {
        "valley": finder.suggest(test, "valley"),
        "minimum / 10": finder.suggest(test, "minimum"),
        "steepest": finder.suggest(test, "steepest"),
    }
    figure = plot.range_test(
        out / "range_test.png",
        test.lrs,
        test.losses,
        test.smoothed,
        rules,
        title=f"range test: {optimizer}, rate from 1e-6 growing exponentially over 200 steps",
    )
    valley = rules["valley"]
    hp = {
        "family": jnp.asarray(0),  # the only family of the task below: constant
        "optimizer": jnp.asarray(config.optimizers.index(optimizer)),
        "peak": jnp.asarray(valley, jnp.float32),
    }
    constant = digits.task(
        data,
        config.steps,
        schedules=["constant"],
        optimizers=config.optimizers,
        batch=config.batch,
        seed=config.seed,
    )
    start = float(constant.evaluate((task.params, None), hp)["val_loss"])
    final = _retrain(constant, data, hp)
    converged = np.isfinite(final["val_loss"]) and final["val_loss"] < 0.25 * start
    text = (
        f"Range test for {optimizer} (fastai's rule: exponential growth from 1e-6 to 10 over "
        f"200 steps, loss smoothed with β = 0.98 and debiased, stopped at 4x the best).\n\n"
        + "\n".join(f"- {name}: {lr:.3g}" for name, lr in rules.items())
        + f"\n\nTraining {optimizer} at the valley suggestion {valley:.3g} with a constant "
        f"rate for {config.steps} steps takes the validation loss from {start:.3f} to "
        f"{final['val_loss']:.4f} (validation accuracy {1 - final['val_error']:.4f}, test "
        f"accuracy {final['test_accuracy']:.4f}): "
        + ("it converges.\n" if converged else "it does **not** converge.\n")
    )
    return text, figure
