"""Sweeps: many hyperparameter settings trained as one jit-compiled, vmapped program.

`space` builds populations (grid, random, Halton), `run` trains them (vmapped, scanned,
sharded, chunked), and `search` acts on them while they train (successive halving,
population-based training). `bayes.search` drives an Optuna study in batches of trials,
each batch one vmapped run (needs ``lrjax[optuna]``). `digits` is the main job's task.
"""

from lrjax.sweep import space
from lrjax.sweep.run import SweepResult, population_mesh, run
from lrjax.sweep.search import (
    HalvingResult,
    PBTResult,
    exploit_explore,
    pbt,
    successive_halving,
)

__all__ = [
    "HalvingResult",
    "PBTResult",
    "SweepResult",
    "exploit_explore",
    "pbt",
    "population_mesh",
    "run",
    "space",
    "successive_halving",
]
