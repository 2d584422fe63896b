"""lrjax: learning-rate schedules and adaptive methods for JAX."""

from lrjax import adaptive, compat, finder, schedules, sweep, transforms
from lrjax.adaptive import (
    ReduceOnPlateau,
    decay_on_gradient_stall,
    reduce_on_plateau,
    scale_by_loss,
)
from lrjax.adaptive.schedule_free import eval_params as schedule_free_eval_params
from lrjax.transforms import (
    adadelta,
    adagrad,
    adam,
    adamax,
    adamw,
    applied_lr,
    nadam,
    radam,
    rmsprop,
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_adamax,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_nadam,
    scale_by_radam,
    scale_by_rms,
    sgd,
)

__version__ = "0.1.0"

__all__ = [
    "ReduceOnPlateau",
    "adaptive",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "applied_lr",
    "compat",
    "finder",
    "decay_on_gradient_stall",
    "nadam",
    "radam",
    "reduce_on_plateau",
    "rmsprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_learning_rate",
    "scale_by_loss",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "schedule_free_eval_params",
    "schedules",
    "sgd",
    "sweep",
    "transforms",
]
