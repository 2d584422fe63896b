"""A task: what `lrjax sweep` trains, searches and reports on, as one value.

A `Task` holds a member's training in the sweep engine's contract (``init(hp)``,
``step(carry, batch, hp)`` or ``step(carry, hp)``, ``evaluate(carry, hp)``, with
``batches`` or ``steps``; or a whole ``train(hp)``), the search space it is swept over by
default, and the metric that ranks settings (``score``, ``mode``). The rest is optional
and makes the report richer: names for integer choices (``labels``), a test-split scorer
for the winner (``test``), the peers' default settings to compare with (``baselines``),
and the training with its learning rate replaced, for the range test (``with_rate``).

A user's task lives in their own module and is named on the command line::

    lrjax sweep --task mypackage.tasks:task      # a module's attribute
    lrjax sweep --task path/to/file.py:task      # a file's
    lrjax sweep --task cartpole                  # a built-in: digits, cartpole, charlm

The attribute is a `Task`, or a function returning one; the function is called with the
options of the config file's ``[task]`` table, and ``--steps`` and ``--seed`` when they
are given (a function that does not take an option given is an error).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jax.typing import ArrayLike

from lrjax.sweep.result import check_mode

BUILTIN = {
    "digits": "lrjax.tasks.digits:task",
    "cartpole": "lrjax.tasks.cartpole:task",
    "charlm": "lrjax.tasks.charlm:task",
}
"""The tasks `lrjax sweep --task NAME` knows by name (the default is digits)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """A training to sweep (see the module docstring).

    Attributes:
      name: a short name for the report's title ("digits MLP").
      space: the default search space, as for `lrjax.sweep.space` (a dict of specs and
        constants); the config file's ``[space]`` table replaces entries of it.
      init, step, evaluate, batches, steps: the step-by-step contract of
        `lrjax.sweep.run`. Every search needs this form.
      train: ``train(hp) -> metrics``, the whole-program contract of
        `lrjax.sweep.run_train`: enough for ``--search sample``.
      score, mode: the metric that ranks members (an evaluation's name, or a per-step
        metric's) and its direction, "min" or "max".
      labels: names of the values of integer hyperparameters, ``{"optimizer": ("sgd",
        "adam")}``: hp 1 is "adam". The config file may name those values, and the
        report shows the names.
      test: ``test(hp) -> {name: scalar}``: the setting ``hp`` (one member's, concrete)
        trained again and scored on held-out data. An entry named like the score checks
        the search's value.
      headline, test_mode: the entry of ``test``'s result that compares the winner with
        the baselines (default: its first; a jitted function returns a dict's keys
        sorted) and its direction, "min" or "max" (default: the score's).
      baselines: settings to compare the winner with, by name, in the space's terms
        (labels allowed): ``{"optax.adam(1e-3), constant": {"optimizer": "adam", ...}}``;
        values missing from one are taken from the space's constants.
      with_rate: ``with_rate(rate) -> (init, step)``: the task's training with its
        learning rate replaced by the schedule ``rate`` (a function of the task's step,
        for example an `lrjax.schedules` schedule), other hyperparameters from ``hp`` as
        usual. The range test grows the rate exponentially through it.
      range_metric: the per-step metric the range test records ("loss", minimised, by
        default; the score's direction when it is the score).
      defaults: command-line options this task prefers over the global defaults, such
        as ``{"sampler": "halton", "population": 24, "points": 4}``.
      description: a sentence or two for the report: the model, the data, the split.
    """

    name: str
    space: Mapping[str, Any]
    init: Callable | None = None
    step: Callable | None = None
    evaluate: Callable | None = None
    batches: Any = None
    steps: int | None = None
    train: Callable | None = None
    score: str = "loss"
    mode: str = "min"
    labels: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    test: Callable[[dict], Mapping[str, ArrayLike]] | None = None
    headline: str | None = None
    test_mode: str | None = None
    baselines: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    with_rate: Callable[[Any], tuple[Callable, Callable]] | None = None
    range_metric: str = "loss"
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Task name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.space, Mapping):
            raise TypeError(f"Task space must be a dict of specs, got {self.space!r}")
        stepwise = self.init is not None and self.step is not None
        if not stepwise and self.train is None:
            raise TypeError("a Task needs init and step (step by step) or train (whole program)")
        if (self.init is None) != (self.step is None):
            raise TypeError("a Task's init and step come together: give both or neither")
        if stepwise and self.batches is None and self.steps is None:
            raise TypeError("a step-by-step Task needs batches or steps=N")
        check_mode(self.mode)
        if self.test_mode is not None:
            check_mode(self.test_mode)
        if not isinstance(self.score, str) or not self.score:
            raise TypeError(f"Task score must be a metric's name, got {self.score!r}")
        for name, values in self.labels.items():
            if isinstance(values, str) or not all(isinstance(v, str) for v in values):
                raise TypeError(f"Task labels[{name!r}] must be a list of names, got {values!r}")

    @property
    def stepwise(self) -> bool:
        """Whether the task offers the step-by-step form (halving, PBT, Bayes need it)."""
        return self.init is not None

    @property
    def range_mode(self) -> str:
        """The range test's direction: the score's when it records the score."""
        return self.mode if self.range_metric == self.score else "min"


def load(target: str, options: Mapping[str, Any] | None = None) -> Task:
    """The task ``target`` names: a built-in name (`BUILTIN`), ``package.module:attr`` or
    ``path/to/file.py:attr``; an attribute that is a function is called with the
    ``options`` its signature takes (`ValueError` names one it does not)."""
    if not isinstance(target, str) or not target:
        raise ValueError(f"task must be a name or module:attribute, got {target!r}")
    where = BUILTIN.get(target, target)
    if ":" not in where:
        raise ValueError(
            f"task {target!r} is neither a built-in ({', '.join(BUILTIN)}) nor "
            f"module:attribute or file.py:attribute"
        )
    module_name, _, attr = where.rpartition(":")
    module = _module(module_name)
    if not hasattr(module, attr):
        raise ValueError(f"task {target!r}: {module_name} has no attribute {attr!r}")
    value = getattr(module, attr)
    if isinstance(value, Task):
        unused = sorted(k for k, v in (options or {}).items() if v is not None)
        if unused:
            raise ValueError(f"task {target!r} is a Task, not a function: it takes no {unused[0]}")
        return value
    if not callable(value):
        raise ValueError(f"task {target!r} is neither a Task nor a function returning one")
    task = value(**_arguments(target, value, options or {}))
    if not isinstance(task, Task):
        raise ValueError(f"task {target!r} returned {type(task).__name__}, not a Task")
    return task


def _module(name: str):
    """A module by dotted name, or a ``.py`` file by path (imported under its stem)."""
    if name.endswith(".py"):
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"task file {name!r} does not exist")
        spec = importlib.util.spec_from_file_location(f"lrjax_task_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look modules up here
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name is not None and name.startswith(e.name):
            raise ValueError(f"no module named {name!r} (is it on PYTHONPATH?)") from e
        raise


def _arguments(target: str, make: Callable, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options given (None means "the task's default": left out); one that `make`'s
    signature does not take is a `ValueError` naming it."""
    parameters = inspect.signature(make).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    chosen = {key: value for key, value in options.items() if value is not None}
    for key in chosen:
        if key not in parameters and not accepts_any:
            known = ", ".join(parameters) or "none"
            raise ValueError(f"task {target!r} takes no option {key!r}; it takes: {known}")
    return chosen


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf, or no such name
        return None


def size(n: float) -> str:
    """Bytes in words: "1.5 GiB"."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            value = n / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return f"{int(n)} B"


def check_memory(what: str, nbytes: int) -> None:
    """`ValueError` when ``nbytes`` (what a task is about to allocate, for example its
    batch indices for ``steps``) exceeds this machine's memory: a task calls it before
    the allocation, which would otherwise end in a `MemoryError` or a kill."""
    available = machine_memory()
    if available is not None and nbytes > available:
        raise ValueError(
            f"{what} need about {size(nbytes)} of memory, more than this machine's "
            f"{size(available)}"
        )
