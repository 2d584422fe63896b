"""Learning-rate schedules: immutable pytrees of hyperparameters, callable on the step.

Every schedule is an `optax.Schedule`, every numeric hyperparameter may be a traced array
(step counts and boundaries included), and a jitted function that takes a schedule as an
argument compiles once for all its values. See `Schedule` for the shared conventions.
"""

from lrjax.schedules.base import Schedule, anneal, static
from lrjax.schedules.combinators import (
    anneal_to,
    clip,
    from_fn,
    join,
    multiplicative,
    product,
    rescale,
    scale,
    staircase,
    switch,
    warmup,
)
from lrjax.schedules.config import from_config, from_json, to_config, to_json
from lrjax.schedules.cyclic import cyclic, geometric_cycle, one_cycle, warm_restarts
from lrjax.schedules.decay import (
    constant,
    cosine_decay,
    exponential_decay,
    inverse_sqrt,
    inverse_time_decay,
    linear,
    multi_step,
    natural_exp_decay,
    piecewise_constant,
    piecewise_interpolate,
    polynomial_decay,
    step_decay,
    tanh_decay,
    warmup_stable_decay,
)
from lrjax.schedules.noise import noise, random_uniform

__all__ = [
    "Schedule",
    "anneal",
    "anneal_to",
    "clip",
    "constant",
    "cosine_decay",
    "cyclic",
    "exponential_decay",
    "from_config",
    "from_fn",
    "from_json",
    "geometric_cycle",
    "inverse_sqrt",
    "inverse_time_decay",
    "join",
    "linear",
    "multi_step",
    "multiplicative",
    "natural_exp_decay",
    "noise",
    "one_cycle",
    "piecewise_constant",
    "piecewise_interpolate",
    "polynomial_decay",
    "product",
    "random_uniform",
    "rescale",
    "scale",
    "staircase",
    "static",
    "step_decay",
    "switch",
    "tanh_decay",
    "to_config",
    "to_json",
    "warm_restarts",
    "warmup",
    "warmup_stable_decay",
]
