"""Sweeps: many hyperparameter settings trained as one jit-compiled, vmapped program.

`space` builds populations (grid, random, Halton); `run` trains them step by step
(``init``/``step``/``evaluate``, any carry: plain pytrees, Flax NNX, Linen ``TrainState``,
Equinox) and `run_train` as whole programs (``train(hp)``), both vmapped, sharded over
every device of every process and chunked by `population`; `search` acts on them while
they train (successive halving, population-based training); `logs` streams their
results (JSON lines, CSV, TensorBoard) and `checkpoint` saves them for `resume`.
`bayes.search` drives an Optuna study in batches of trials, each batch one vmapped run
(needs ``lrjax[optuna]``). `task` defines what ``lrjax sweep`` sweeps: a `Task` holds a
member's training, its space, its score and the tests of its winner; `digits` is the
data and model of the default one.
"""

from lrjax.sweep import logs, space
from lrjax.sweep.logs import Segment
from lrjax.sweep.population import population_mesh
from lrjax.sweep.result import SweepResult
from lrjax.sweep.run import member_carry, replay, run, run_train
from lrjax.sweep.search import (
    HalvingResult,
    PBTResult,
    exploit_explore,
    pbt,
    successive_halving,
)
from lrjax.sweep.task import Task

__all__ = [
    "HalvingResult",
    "PBTResult",
    "Segment",
    "SweepResult",
    "Task",
    "exploit_explore",
    "logs",
    "member_carry",
    "pbt",
    "population_mesh",
    "replay",
    "run",
    "run_train",
    "space",
    "successive_halving",
]
