"""Schedules as configuration (issue 18): every schedule and combinator, lrjax's own and
the compat modules', to a plain dict / JSON and back, equal (structure, leaves, dtypes,
values) and still traceable; and the errors of what cannot be written."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lrjax.schedules as S
from lrjax.compat import keras as K
from lrjax.compat import timm
from lrjax.compat import torch as T

COS = S.cosine_decay(0.1, 100)


def halve(step):
    """A module-level function: configurations name it."""
    return 0.5 ** (step // 10)


CASES = {
    "constant": S.constant(0.1),
    "cosine_decay": S.cosine_decay(0.1, 100, final=1e-3),
    "float32 peak": S.cosine_decay(jnp.float32(0.1), 50),
    "linear": S.linear(0.1, 0.0, 100),
    "exponential_decay": S.exponential_decay(0.1, 0.5),
    "step_decay": S.step_decay(0.1, 0.5, 10),
    "multi_step": S.multi_step(0.1, [10, 20], 0.5),
    "piecewise_constant": S.piecewise_constant([10, 20], [0.1, 0.05, 0.01]),
    "piecewise_interpolate": S.piecewise_interpolate([0, 10, 20], [0.1, 0.05, 0.01]),
    "polynomial_decay": S.polynomial_decay(0.1, 0.0, 100),
    "inverse_sqrt": S.inverse_sqrt(0.1, 10),
    "tanh_decay": S.tanh_decay(0.1, 100),
    "warmup_stable_decay": S.warmup_stable_decay(0.1, 10, 50, 20, decay_shape="1-sqrt"),
    "one_cycle": S.one_cycle(0.1, 100),
    "cyclic": S.cyclic(0.001, 0.1, 10),
    "warm_restarts": S.warm_restarts(0.1, 10),
    "warmup": S.warmup(COS, 10),
    "join": S.join([COS, S.constant(0.01)], [50]),
    "clip": S.clip(COS, floor=0.01),
    "scale": S.scale(COS, 0.5),
    "product": S.product([COS, S.constant(0.5)]),
    "switch": S.switch(1, [COS, S.linear(0.1, 0.0, 10)]),
    "staircase": S.staircase(COS, 4),
    "rescale": S.rescale(COS, 4),
    "from_fn": S.from_fn(halve),
    "multiplicative": S.multiplicative(0.1, halve),
    "noise": S.noise(COS, jax.random.key(3)),
    "anneal_to": S.anneal_to(COS, 0.01, start=50, steps=5),
    "anneal_to a number": S.anneal_to(0.1, 0.01, steps=0, shape="linear"),
    "torch SWALR": T.SWALR(T.CosineAnnealingLR(0.1, 100), 0.01, 5, "linear", start=20),
    "torch OneCycleLR": T.OneCycleLR(0.1, 0.1, 100),
    "torch SequentialLR": T.SequentialLR(0.1, [T.LinearLR(0.1), T.ExponentialLR(0.1, 0.9)], [5]),
    "torch ChainedScheduler": T.ChainedScheduler(
        0.1, [T.StepLR(0.1, 10), T.ExponentialLR(0.1, 0.99)]
    ),
    "torch CosineAnnealingWarmRestarts": T.CosineAnnealingWarmRestarts(0.1, 10, 2),
    "keras CosineDecayRestarts": K.CosineDecayRestarts(0.1, 10),
    "timm CosineLRScheduler": timm.CosineLRScheduler(0.1, 100, warmup_t=5, warmup_lr_init=1e-4),
}


def same_leaves(a, b) -> bool:
    def plain(x):
        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return np.asarray(jax.random.key_data(x))
        return np.asarray(x)

    left, right = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(left) == len(right) and all(
        np.array_equal(plain(x), plain(y)) and plain(x).dtype == plain(y).dtype
        for x, y in zip(left, right, strict=True)
    )


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_is_equal_and_jits(name):
    schedule = CASES[name]
    text = S.to_json(schedule)
    json.loads(text)  # plain JSON
    again = S.from_json(text)
    assert type(again) is type(schedule)
    assert jax.tree.structure(again) == jax.tree.structure(schedule)
    assert same_leaves(again, schedule)
    steps = jnp.arange(0, 130, 7)
    np.testing.assert_array_equal(again(steps), schedule(steps))
    evaluate = jax.jit(lambda s: s(steps))  # one program for both: same structure
    np.testing.assert_array_equal(evaluate(again), evaluate(schedule))


def test_a_configuration_written_by_hand_is_validated_and_traces():
    config = {
        "class": "warmup",
        "schedule": {"class": "cosine_decay", "peak": 0.1, "decay_steps": 90},
        "steps": 10,
    }
    schedule = S.from_config(config)
    assert float(schedule(55)) == pytest.approx(0.05, rel=1e-6)
    # vmapped over a field of the configuration: built from traced values, no recompiling
    peaks = jnp.array([0.1, 0.2])
    values = jax.vmap(
        lambda p: S.from_config({**config, "schedule": {**config["schedule"], "peak": p}})(55)
    )(peaks)
    np.testing.assert_allclose(values, [0.05, 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match="decay_steps"):
        S.from_config({"class": "cosine_decay", "peak": 0.1, "decay_steps": -3})
    with pytest.raises(ValueError, match="unknown schedule class 'cosine'"):
        S.from_config({"class": "cosine", "peak": 0.1})
    with pytest.raises(ValueError, match="not one of lrjax's"):
        S.from_config({"class": "os.path.join"})
    with pytest.raises(ValueError, match="'cosine_decay'.*peaks"):
        S.from_config({"class": "cosine_decay", "peaks": 0.1, "decay_steps": 9})


def test_what_cannot_be_written_is_named():
    with pytest.raises(ValueError, match="from_fn.fn .* only a module-level function"):
        S.to_config(S.from_fn(lambda k: 0.1))
    with pytest.raises(ValueError, match="traced"):
        jax.jit(lambda p: S.to_config(S.constant(p))["value"])(0.1)
    with pytest.raises(TypeError, match="takes a schedule"):
        S.to_config(0.1)


def test_a_toml_table_names_a_schedule():
    """How a ``[task]`` option of ``lrjax sweep``'s config names a schedule."""
    tomllib = pytest.importorskip("tomllib")
    table = tomllib.loads(
        '[task.schedule]\nclass = "warmup"\nsteps = 100\n'
        '[task.schedule.schedule]\nclass = "cosine_decay"\npeak = 3e-3\ndecay_steps = 900\n'
    )["task"]["schedule"]
    schedule = S.from_config(table)
    expected = 3e-3 * 0.5 * (1 + math.cos(math.pi * 450 / 900))
    assert float(schedule(550)) == pytest.approx(expected, rel=1e-6)
