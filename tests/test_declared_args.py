"""The declared argument layer, tested by enumeration (issue 15).

Every public constructor of lrjax (schedules, optimizers and transformations, the compat
peers, the range test) is found from its module's namespace, not from a list here, and
must carry an `lrjax._checks.arguments` declaration that names every numeric argument of
its signature. Each declared argument is then given values of the wrong kind (a bool, a
string, None, an array where a scalar belongs, a number where a callable belongs) and
values just outside its declared range (NaN, inf, below the low end, above the high end,
a fraction for a count, a positive number that float32 flushes to zero); each must raise
`TypeError` or `ValueError` whose message names the argument.

The only hand-written data are the valid values of required arguments (`REQUIRED`), from
which each call starts; a constructor missing there fails the coverage test.
"""

from __future__ import annotations

import inspect
import math
import re

import jax
import numpy as np
import pytest

import lrjax
import lrjax.adaptive
import lrjax.finder
import lrjax.schedules as S
import lrjax.transforms
from lrjax import _checks
from lrjax.compat import (
    dadaptation,
    dog,
    hypergrad,
    keras,
    mechanic,
    prodigyopt,
    schedulefree,
    timm,
    torch,
)

MODULES = {
    "lrjax": lrjax,
    "schedules": S,
    "transforms": lrjax.transforms,
    "adaptive": lrjax.adaptive,
    "torch": torch,
    "keras": keras,
    "timm": timm,
    "dadaptation": dadaptation,
    "prodigyopt": prodigyopt,
    "dog": dog,
    "mechanic": mechanic,
    "schedulefree": schedulefree,
    "hypergrad": hypergrad,
}

# Public callables that build nothing: readers of a state, the schedule base and its
# helpers, typing aliases. Everything else public in MODULES is a constructor.
NOT_CONSTRUCTORS = {
    "applied_lr",
    "asgd_average",
    "iterate_average",
    "schedule_free_eval_params",
    "eval_params",
    "averaged_params",
    "Schedule",
    "anneal",
    "static",
    "geometric_cycle",
    "Hyper",
    "to_config",
    "from_config",
    "to_json",
    "from_json",
}
FINDER = ("lr_grid", "range_test", "parallel_range_test")
# Pair arguments (torch's ``betas``): each entry may be a number or a schedule, and torch's
# both-floats-or-both-tensors rule applies, so the body checks them entry by entry.
PAIRS = {"betas", "etas", "step_sizes"}

COS = S.cosine_decay(0.1, 100)
KEY = jax.random.key(0)
INNER = lrjax.sgd(0.1)
TORCH_STEP = torch.StepLR(0.1, 10)

# Valid values of the required arguments, by constructor name.
REQUIRED = {
    "clip": (COS,),
    "constant": (0.1,),
    "cosine_decay": (0.1, 100),
    "cyclic": (0.001, 0.1, 10),
    "exponential_decay": (0.1, 0.5),
    "from_fn": (lambda k: 0.1 / (k + 1),),
    "inverse_sqrt": (0.1,),
    "inverse_time_decay": (0.1,),
    "join": ([COS, COS], [10]),
    "linear": (0.1, 0.0, 100),
    "multi_step": (0.1, [10, 20], 0.5),
    "multiplicative": (0.1, lambda k: 0.99),
    "natural_exp_decay": (0.1, 0.01),
    "noise": (COS, KEY),
    "one_cycle": (0.1, 100),
    "piecewise_constant": ([10, 20], [0.1, 0.05, 0.01]),
    "piecewise_interpolate": ([0, 10, 20], [0.1, 0.05, 0.01]),
    "polynomial_decay": (0.1, 0.0, 100),
    "product": ([COS, COS],),
    "random_uniform": (KEY, 0.01, 0.1),
    "scale": (COS, 0.5),
    "staircase": (COS, 5),
    "rescale": (COS, 5),
    "step_decay": (0.1, 0.5, 10),
    "switch": (0, [COS, COS]),
    "tanh_decay": (0.1, 100),
    "warm_restarts": (0.1, 10),
    "warmup": (COS, 10),
    "warmup_stable_decay": (0.1, 10, 10, 10),
    "adagrad": (0.1,),
    "adam": (0.1,),
    "adamax": (0.1,),
    "adamw": (0.1,),
    "nadam": (0.1,),
    "radam": (0.1,),
    "rmsprop": (0.1,),
    "sgd": (0.1,),
    "sign_sgd": (0.1,),
    "signum": (0.1,),
    "lion": (0.1,),
    "adabelief": (0.1,),
    "yogi": (0.1,),
    "sm3": (0.1,),
    "lars": (0.1,),
    "lamb": (0.1,),
    "novograd": (0.1,),
    "adamaxw": (0.1,),
    "param_groups": ({"all": ("**", INNER)},),
    "layer_decay": (lrjax.sgd, 0.1, 0.65, 3),
    "scale_by_learning_rate": (0.1,),
    "scale_by_loss": (0.1,),
    "scale_by_momentum": (0.9,),
    "descent": (),
    "polynomial_average": (INNER,),
    "average_iterates": (INNER,),
    "AveragedModel": (INNER,),
    "lazy_adam": (0.1,),
    "lazy_adagrad": (0.1,),
    "anneal_to": (COS, 0.01),
    "SWALR": (0.1, 0.01),
    "mechanize": (INNER,),
    "schedule_free": (lrjax.transforms.scale_by_momentum(0.0), 0.1),
    "hypergradient": (lrjax.transforms.scale_by_momentum(0.0), 0.1, 1e-3),
    "sgd_hd": (0.1,),
    "lr_grid": (1e-4, 1.0, 5),
    "range_test": (lambda p, b: p, lambda s: lrjax.sgd(s), 0.0, np.zeros((3, 1))),
    "parallel_range_test": (lambda p, b: p, lambda lr: lrjax.sgd(lr), 0.0, np.zeros((3, 1))),
    "ChainedScheduler": (0.1, [TORCH_STEP]),
    "ConstantLR": (0.1,),
    "CosineAnnealingLR": (0.1, 100),
    "CosineAnnealingWarmRestarts": (0.1, 10),
    "CyclicLR": (0.001, 0.1),
    "ExponentialLR": (0.1, 0.9),
    "LambdaLR": (0.1, lambda e: 0.9**e),
    "LinearLR": (0.1,),
    "MultiStepLR": (0.1, [10, 20]),
    "MultiplicativeLR": (0.1, lambda e: 0.9),
    "OneCycleLR": (0.1, 0.1, 100),
    "PolynomialLR": (0.1,),
    "ReduceLROnPlateau": (0.1,),
    "SequentialLR": (0.1, [TORCH_STEP, TORCH_STEP], [10]),
    "StepLR": (0.1, 10),
    "CosineDecay": (0.1, 100),
    "CosineDecayRestarts": (0.1, 10),
    "ExponentialDecay": (0.1, 100, 0.5),
    "InverseTimeDecay": (0.1, 100, 0.5),
    "PiecewiseConstantDecay": ([10, 20], [0.1, 0.05, 0.01]),
    "PolynomialDecay": (0.1, 100),
    "PlateauLRScheduler": (0.1,),
    "TimmPlateau": (lrjax.ReduceOnPlateau(0.1), 5, 1e-4),
    "CosineLRScheduler": (0.1, 100),
    "MultiStepLRScheduler": (0.1, [10, 20]),
    "PolyLRScheduler": (0.1, 100),
    "StepLRScheduler": (0.1, 10),
    "TanhLRScheduler": (0.1, 100),
    "PolynomialDecayAverager": (INNER,),
    "SGDHD": (0.1,),
}
KEYWORDS = {"descent": {"learning_rate": 0.1}, "OneCycleLR": {}}


def _constructors() -> dict[str, object]:
    found: dict[str, object] = {}
    seen: set[int] = set()
    for module_name, module in MODULES.items():
        names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
        for name in names:
            obj = getattr(module, name)
            if name in NOT_CONSTRUCTORS or id(obj) in seen or inspect.ismodule(obj):
                continue
            if not callable(obj) or (isinstance(obj, type) and issubclass(obj, tuple)):
                continue  # constants and the NamedTuple states
            seen.add(id(obj))
            found[f"{module_name}.{name}"] = obj
    for name in FINDER:
        found[f"finder.{name}"] = getattr(lrjax.finder, name)
    return found


CONSTRUCTORS = _constructors()


def declaration(obj) -> dict[str, _checks.Arg] | None:
    """The constructor's own declaration (a class's, not one inherited from a parent)."""
    if isinstance(obj, type):
        return obj.__dict__.get("__lrjax_args__")
    return getattr(obj, "__lrjax_args__", None)


def _numeric(param: inspect.Parameter) -> bool:
    """Whether a parameter takes a number: by its default or by its annotation."""
    default = param.default
    if isinstance(default, bool) or isinstance(default, str):
        return False
    if isinstance(default, (int, float)):
        return True
    text = str(param.annotation)
    words = set(re.findall(r"\w+", text))
    if words & {"tuple", "Sequence"} and param.name in PAIRS:
        return False  # a pair: its entries are checked in the body (test_pairs_are_checked)
    return bool(words & {"ArrayLike", "Hyper", "float", "int"}) and "Callable" not in words


def _parameters(obj) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(obj).parameters)
    params.pop("self", None)
    return {n: p for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_every_numeric_argument_is_declared(name):
    obj = CONSTRUCTORS[name]
    declared = declaration(obj)
    numeric = {n for n, p in _parameters(obj).items() if _numeric(p)}
    assert declared is not None or not numeric, f"{name} has no _checks.arguments declaration"
    declared = declared or {}
    missing = numeric - set(declared)
    assert not missing, f"{name} does not declare its numeric arguments {sorted(missing)}"


def _call(name: str, **changes):
    obj = CONSTRUCTORS[name]
    short = name.split(".", 1)[1]
    args = REQUIRED.get(short, ())
    kwargs = dict(KEYWORDS.get(short, {}))
    bound = inspect.signature(obj).bind_partial(*args, **kwargs)
    bound.arguments.update(changes)
    return obj(*bound.args, **bound.kwargs)


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_valid_baseline_constructs(name):
    """The starting point of the bad-value tests is itself valid."""
    _call(name)


def _bad_kinds(arg: _checks.Arg) -> list:
    if arg.kind == "function":
        return [3.0, "abc"]
    bad = [True, "abc", object()]
    if not arg.optional:
        bad.append(None)
    if arg.shape == "scalar":
        bad.append(np.array([0.5, 0.5]))
    if arg.shape == "vector":
        bad.append(np.array(0.5))
    return bad


def _bad_values(arg: _checks.Arg) -> list:
    if arg.kind == "function":
        return []
    bad = [math.nan] + ([math.inf, -math.inf] if arg.finite else [])
    low, high = arg.low, arg.high
    if low is not None:
        bad.append(low if arg.open_low else low - 1)
        if arg.kind == "real" and low == 0 and arg.open_low:
            bad.append(1e-46)  # 0 in float32, where the value is computed
    if high is not None:
        bad.append(high if arg.open_high else high + 1)
    if arg.kind == "integer":
        bad.append((low if low is not None and math.isfinite(low) else 0) + 2.5)
    if arg.shape == "vector":
        bad = [[v] for v in bad]
    return bad


def _cases(bad_of):
    cases = []
    for name, obj in sorted(CONSTRUCTORS.items()):
        for arg_name, arg in (declaration(obj) or {}).items():
            for i, value in enumerate(bad_of(arg)):
                cases.append(pytest.param(name, arg_name, value, id=f"{name}-{arg_name}-{i}"))
    return cases


KIND_CASES = _cases(_bad_kinds)
RANGE_CASES = _cases(_bad_values)


def _assert_refused(name, arg_name, value, errors):
    with pytest.raises(errors) as info:
        _call(name, **{arg_name: value})
    assert re.search(rf"(^|\W){re.escape(arg_name)}(\W|$)", str(info.value)), (
        f"{name}({arg_name}={value!r}) raised {info.value!r}, which does not name {arg_name}"
    )


@pytest.mark.parametrize(("name", "arg_name", "value"), KIND_CASES)
def test_wrong_kind_is_refused_naming_the_argument(name, arg_name, value):
    _assert_refused(name, arg_name, value, (TypeError, ValueError))


@pytest.mark.parametrize(("name", "arg_name", "value"), RANGE_CASES)
def test_out_of_range_is_refused_naming_the_argument(name, arg_name, value):
    _assert_refused(name, arg_name, value, ValueError)


# Not pairs: mechanic-pytorch's ``betas`` is a list of any length (a declared vector).
NOT_PAIRS = {"mechanic.mechanize"}
PAIR_CASES = [
    pytest.param(name, arg, id=f"{name}-{arg}")
    for name, obj in sorted(CONSTRUCTORS.items())
    if name not in NOT_PAIRS
    for arg in sorted(PAIRS & set(_parameters(obj)))
]


@pytest.mark.parametrize(("name", "arg_name"), PAIR_CASES)
def test_pairs_are_checked(name, arg_name):
    for bad, error in [
        ((True, True), TypeError),
        (("a", 0.9), TypeError),
        ((math.nan, 0.999), ValueError),
        ((0.9, math.inf), ValueError),
        ((0.9,), ValueError),
        (0.9, ValueError),
    ]:
        _assert_refused(name, arg_name, bad, error)


def test_bool_is_refused_even_where_the_number_would_do():
    """True is 1 to NumPy: as a step count it was a silent period of one."""
    with pytest.raises(TypeError, match=r"every must be a number, got False"):
        S.step_decay(0.1, 0.5, every=False)
    with pytest.raises(TypeError, match=r"b1 must be a number, got True"):
        lrjax.adam(0.1, b1=True)


def test_traced_values_are_checked_for_kind_and_shape_only():
    """Inside jit a value is unknown, so its range is not checked; its shape still is."""
    jax.jit(lambda lr: lrjax.adam(lr).init(np.zeros(2)))(-1.0)  # no range check
    with pytest.raises(ValueError, match=r"learning_rate must be a scalar"):
        jax.jit(lambda lr: lrjax.adam(lr))(np.ones(2))


def test_a_value_flushed_to_zero_in_float32_is_refused_and_kept_under_x64():
    with pytest.raises(ValueError, match=r"steps must be .*in float32.*1e-45"):
        S.inverse_time_decay(0.1, 1.0, steps=1e-45)
    with jax.enable_x64(True):
        value = S.inverse_time_decay(0.1, 1.0, steps=1e-300)(1)
        assert np.isfinite(float(value))


def test_counts():
    """The size of what the enumeration covers (quoted in the issue's note)."""
    declared = [declaration(o) or {} for o in CONSTRUCTORS.values()]
    n_args = sum(len(d) for d in declared)
    print(
        f"{len(CONSTRUCTORS)} constructors, {n_args} declared arguments, "
        f"{len(KIND_CASES)} wrong-kind and {len(RANGE_CASES)} out-of-range cases"
    )
    assert len(CONSTRUCTORS) >= 110 and n_args >= 500
