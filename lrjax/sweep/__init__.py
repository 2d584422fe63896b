"""Sweeps: many hyperparameter settings trained as one jit-compiled, vmapped program."""

from lrjax.sweep.run import SweepResult, population_mesh, run

__all__ = ["SweepResult", "population_mesh", "run"]
