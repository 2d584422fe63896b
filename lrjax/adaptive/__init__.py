"""Learning rates that react to training: loss-aware rules and learning-rate-free methods."""

from lrjax.adaptive.plateau import (
    PlateauState,
    ReduceOnPlateau,
    ReduceOnPlateauState,
    reduce_on_plateau,
)

__all__ = ["PlateauState", "ReduceOnPlateau", "ReduceOnPlateauState", "reduce_on_plateau"]
