"""lrjax: learning-rate schedules and adaptive methods for JAX."""

from lrjax import compat, schedules, transforms
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
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "applied_lr",
    "compat",
    "nadam",
    "radam",
    "rmsprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "schedules",
    "sgd",
    "transforms",
]
