"""Adaptive methods as Optax transformations: ``scale_by_*`` pieces and the optimizers
built from them, each finished by a learning rate that is a number or any schedule."""

from lrjax.transforms.adam import (
    ScaleByAdamState,
    ScaleByNadamState,
    adam,
    adamax,
    adamaxw,
    adamw,
    nadam,
    radam,
    scale_by_adam,
    scale_by_adamax,
    scale_by_nadam,
    scale_by_radam,
)
from lrjax.transforms.applied import applied_lr
from lrjax.transforms.asgd import ASGDState, asgd, asgd_average
from lrjax.transforms.base import (
    Hyper,
    ScaleByLearningRateState,
    descent,
    scale_by_learning_rate,
)
from lrjax.transforms.groups import layer_decay, param_groups
from lrjax.transforms.rms import (
    ScaleByAdadeltaState,
    ScaleByAdagradState,
    ScaleByRmsState,
    adadelta,
    adagrad,
    rmsprop,
    scale_by_adadelta,
    scale_by_adagrad,
    scale_by_rms,
)
from lrjax.transforms.rprop import ScaleByRpropState, rprop
from lrjax.transforms.sgd import ScaleByMomentumState, scale_by_momentum, sgd
from lrjax.transforms.sign import (
    ScaleBySignState,
    lion,
    scale_by_lion,
    scale_by_sign,
    sign_sgd,
    signum,
)
from lrjax.transforms.variance import adabelief, scale_by_belief, scale_by_yogi, yogi

__all__ = [
    "ASGDState",
    "Hyper",
    "ScaleByAdadeltaState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLearningRateState",
    "ScaleByMomentumState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleBySignState",
    "adabelief",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "applied_lr",
    "asgd",
    "asgd_average",
    "descent",
    "layer_decay",
    "lion",
    "nadam",
    "param_groups",
    "radam",
    "rmsprop",
    "rprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_belief",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_sign",
    "scale_by_yogi",
    "sgd",
    "sign_sgd",
    "signum",
    "yogi",
]
