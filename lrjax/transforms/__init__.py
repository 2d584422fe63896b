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
from lrjax.transforms.factored import (
    FactoredState,
    ScaleByAdafactorRateState,
    adafactor,
    scale_by_factored_rms,
)
from lrjax.transforms.groups import layer_decay, param_groups
from lrjax.transforms.lazy import (
    ScaleByLazyAdamState,
    lazy_adagrad,
    lazy_adam,
    scale_by_lazy_adagrad,
    scale_by_lazy_adam,
)
from lrjax.transforms.novograd import ScaleByNovogradState, novograd, scale_by_novograd
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
from lrjax.transforms.sm3 import ScaleBySM3State, scale_by_sm3, sm3
from lrjax.transforms.swa import AverageIteratesState, average_iterates, iterate_average
from lrjax.transforms.trust import lamb, lars, scale_by_trust_ratio
from lrjax.transforms.variance import adabelief, scale_by_belief, scale_by_yogi, yogi

__all__ = [
    "ASGDState",
    "AverageIteratesState",
    "FactoredState",
    "Hyper",
    "ScaleByAdadeltaState",
    "ScaleByAdafactorRateState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByLazyAdamState",
    "ScaleByLearningRateState",
    "ScaleByMomentumState",
    "ScaleByNadamState",
    "ScaleByNovogradState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleBySM3State",
    "ScaleBySignState",
    "adabelief",
    "adafactor",
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "applied_lr",
    "asgd",
    "asgd_average",
    "average_iterates",
    "descent",
    "iterate_average",
    "lamb",
    "lars",
    "layer_decay",
    "lazy_adagrad",
    "lazy_adam",
    "lion",
    "nadam",
    "novograd",
    "param_groups",
    "radam",
    "rmsprop",
    "rprop",
    "scale_by_adadelta",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_belief",
    "scale_by_factored_rms",
    "scale_by_lazy_adagrad",
    "scale_by_lazy_adam",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_momentum",
    "scale_by_nadam",
    "scale_by_novograd",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_sign",
    "scale_by_sm3",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "sgd",
    "sign_sgd",
    "signum",
    "sm3",
    "yogi",
]
