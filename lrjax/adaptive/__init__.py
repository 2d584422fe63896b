"""Learning rates that react to training: loss-aware rules and learning-rate-free methods."""

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
from lrjax.adaptive.hypergradient import HypergradientState, adam_hd, hypergradient, sgd_hd
from lrjax.adaptive.loss import (
    ScaleByLossState,
    StallState,
    decay_on_gradient_stall,
    scale_by_loss,
)
from lrjax.adaptive.plateau import (
    PlateauState,
    ReduceOnPlateau,
    ReduceOnPlateauState,
    reduce_on_plateau,
)
from lrjax.adaptive.prodigy import ProdigyState, prodigy
from lrjax.adaptive.schedule_free import (
    ScheduleFreeState,
    eval_params,
    schedule_free,
    schedule_free_adamw,
    schedule_free_sgd,
)

__all__ = [
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
