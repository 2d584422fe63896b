"""Learning rates that react to training: loss-aware rules and learning-rate-free methods."""

from lrjax.adaptive.cocob import COCOBState, cocob, scale_by_cocob
from lrjax.adaptive.dadapt import (
    DAdaptAdaGradState,
    DAdaptAdamState,
    DAdaptSGDState,
    dadapt_adagrad,
    dadapt_adam,
    dadapt_sgd,
)
from lrjax.adaptive.dog import (
    DoGState,
    PolynomialAverageState,
    averaged_params,
    dog,
    polynomial_average,
)
from lrjax.adaptive.dowg import DoWGState, dowg, scale_by_dowg
from lrjax.adaptive.hypergradient import HypergradientState, adam_hd, hypergradient, sgd_hd
from lrjax.adaptive.loss import (
    ScaleByLossState,
    StallState,
    decay_on_gradient_stall,
    scale_by_loss,
)
from lrjax.adaptive.mechanic import MechanicState, mechanize
from lrjax.adaptive.plateau import (
    PlateauState,
    ReduceOnPlateau,
    ReduceOnPlateauState,
    reduce_on_plateau,
)
from lrjax.adaptive.polyak import PolyakState, polyak_sgd, scale_by_polyak
from lrjax.adaptive.prodigy import ProdigyState, prodigy
from lrjax.adaptive.schedule_free import (
    ScheduleFreeState,
    eval_params,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
)

__all__ = [
    "COCOBState",
    "cocob",
    "scale_by_cocob",
    "DoWGState",
    "dowg",
    "scale_by_dowg",
    "MechanicState",
    "mechanize",
    "PolyakState",
    "polyak_sgd",
    "scale_by_polyak",
    "DoGState",
    "PolynomialAverageState",
    "averaged_params",
    "dog",
    "polynomial_average",
    "DAdaptAdaGradState",
    "DAdaptAdamState",
    "DAdaptSGDState",
    "dadapt_adagrad",
    "dadapt_adam",
    "dadapt_sgd",
    "ProdigyState",
    "prodigy",
    "ScheduleFreeState",
    "eval_params",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_sgd",
    "HypergradientState",
    "adam_hd",
    "hypergradient",
    "sgd_hd",
    "PlateauState",
    "ReduceOnPlateau",
    "ReduceOnPlateauState",
    "ScaleByLossState",
    "StallState",
    "decay_on_gradient_stall",
    "reduce_on_plateau",
    "scale_by_loss",
]
