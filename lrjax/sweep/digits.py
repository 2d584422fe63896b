"""The main job's task: a small MLP on scikit-learn's digits, ready for `lrjax.sweep.run`.

The data are the 1797 8x8 images of handwritten digits shipped inside scikit-learn (no
download), scaled to [-0.5, 0.5] and split once, by a seeded shuffle, into train,
validation and test sets. The model is a tanh MLP (64-64-10 by default) trained on
minibatches drawn from a seeded sequence of epochs; every member of a sweep starts from
the same weights and sees the same batches, so members differ only in their
hyperparameters.

A member's hyperparameters are a dict of arrays: ``family`` (an index into the schedule
families), ``optimizer`` (an index into the optimizers) and ``peak`` (the schedule's peak
learning rate). The optimizer is ``chain(direction[optimizer], scale_by_learning_rate(
switch(family, schedules(peak))))``: all members share one program, so a sweep over
optimizers and schedule families is one vmapped, jitted run.

Needs scikit-learn (the ``demo`` extra) to load the data; nothing else here does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from lrjax import schedules as S
from lrjax.transforms import (
    scale_by_adagrad,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rms,
)


def _families(peak: ArrayLike, steps: int) -> dict[str, S.Schedule]:
    warm = max(1, steps // 10)
    return {
        "constant": S.constant(peak),
        "step": S.step_decay(peak, 0.1, max(1, steps // 3)),
        "exponential": S.exponential_decay(peak, 0.01, steps),
        "linear": S.linear(peak, 0.0, steps),
        "cosine": S.cosine_decay(peak, steps),
        "warmup_cosine": S.warmup(S.cosine_decay(peak, steps - warm), warm),
        "one_cycle": S.one_cycle(peak, steps, cycle_momentum=False),
        "wsd": S.warmup_stable_decay(peak, warm, steps - 3 * warm, 2 * warm),
        "inverse_sqrt": S.inverse_sqrt(peak, warm),
    }


SCHEDULES: tuple[str, ...] = tuple(_families(1.0, 100))
"""Schedule families by name. Each reaches ``peak`` and, where it decays, ends near 0
at the last step: step (x0.1 every third of the run), exponential (to 1%), linear,
cosine, warmup_cosine (10% linear warmup), one_cycle (PyTorch's defaults),
wsd (warmup 10%, stable 70%, linear decay 20%), inverse_sqrt (10% warmup)."""

DIRECTIONS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "sgd": optax.identity,
    "momentum": lambda: scale_by_momentum(0.9),
    "nesterov": lambda: scale_by_momentum(0.9, nesterov=True),
    "adagrad": scale_by_adagrad,
    "rmsprop": scale_by_rms,
    "adam": scale_by_adam,
}
"""Optimizers by name, as the direction that the learning rate then scales: SGD, heavy
ball and Nesterov momentum 0.9, AdaGrad, RMSprop (alpha 0.99, eps 1e-8, PyTorch's) and
Adam (0.9, 0.999, 1e-8), each lrjax's own."""


def schedule(
    family: ArrayLike, peak: ArrayLike, steps: int, names: Sequence[str] = SCHEDULES
) -> S.Schedule:
    """``names[family]`` (a traceable index) at peak rate ``peak`` over ``steps`` steps."""
    table = _families(peak, steps)
    for name in names:
        if name not in table:
            raise ValueError(f"unknown schedule {name!r}; choose from {', '.join(table)}")
    return S.switch(family, [table[name] for name in names])


def select(index: ArrayLike, transforms: Sequence[optax.GradientTransformation]):
    """The transformation ``transforms[index]``, with ``index`` an integer that may be
    traced: its state holds every candidate's state and an update advances only the chosen
    one (`jax.lax.switch`; under `jax.vmap` every branch runs and each member keeps its
    own), so members with different optimizers share one program."""
    transforms = tuple(transforms)

    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(updates, state, params=None):
        def branch(i):
            def apply(updates, state):
                new, inner = transforms[i].update(updates, state[i], params)
                return new, state[:i] + (inner,) + state[i + 1 :]

            return apply

        index_ = jnp.clip(jnp.asarray(index, jnp.int32), 0, len(transforms) - 1)
        return jax.lax.switch(index_, [branch(i) for i in range(len(transforms))], updates, state)

    return optax.GradientTransformation(init, update)


def optimizer(
    hp: dict[str, ArrayLike],
    steps: int,
    schedules: Sequence[str] = SCHEDULES,
    optimizers: Sequence[str] = tuple(DIRECTIONS),
) -> optax.GradientTransformation:
    """The member optimizer for hyperparameters ``hp`` (``family``, ``optimizer``, ``peak``)."""
    for name in optimizers:
        if name not in DIRECTIONS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(DIRECTIONS)}")
    direction = select(hp["optimizer"], [DIRECTIONS[name]() for name in optimizers])
    rate = schedule(hp["family"], hp["peak"], steps, schedules)
    return optax.chain(direction, scale_by_learning_rate(rate))


class Data(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


IMAGES = 1797
"""Images in scikit-learn's digits data set (`load` splits them)."""

SIZES: tuple[int, ...] = (64, 64, 10)
"""The MLP's layer widths, input first: 64 pixels, 64 tanh units, 10 classes."""


def split_sizes(n: int = IMAGES, val: float = 0.2, test: float = 0.2) -> tuple[int, int, int]:
    """The (train, validation, test) row counts of `load`'s split of ``n`` images, known
    without loading the data: the command line checks ``--batch`` against the training
    split before any work starts."""
    n_test, n_val = int(n * test), int(n * val)
    return n - n_test - n_val, n_val, n_test


def load(seed: int = 0, val: float = 0.2, test: float = 0.2) -> Data:
    """The digits split into train / validation / test fractions by a seeded shuffle."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0 - 0.5).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype(np.int32)
    _, n_val, n_test = split_sizes(len(x), val, test)
    cut = n_test + n_val
    return Data(x[cut:], y[cut:], x[n_test:cut], y[n_test:cut], x[:n_test], y[:n_test])


def init_mlp(key: jax.Array, sizes: Sequence[int] = SIZES) -> list[dict]:
    """LeCun-normal weights, zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros(n)}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def logits(params: list[dict], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy."""
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()


def accuracy(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits(params, x), -1) == y)


def batch_indices(n: int, steps: int, batch: int = 64, seed: int = 1) -> np.ndarray:
    """(steps, batch) row indices: whole epochs of a seeded permutation, the remainder of
    each epoch dropped. A batch must fit in the ``n`` rows (an epoch holds at least one)."""
    for name, value in (("n", n), ("steps", steps), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if batch > n:
        raise ValueError(f"batch ({batch}) exceeds the {n} rows it is drawn from")
    rng = np.random.default_rng(seed)
    per_epoch = n // batch
    epochs = -(-steps // per_epoch)
    idx = np.concatenate([rng.permutation(n)[: per_epoch * batch] for _ in range(epochs)])
    return idx[: steps * batch].reshape(steps, batch)


class Task(NamedTuple):
    """The functions and data `lrjax.sweep.run` takes: ``run(task.init, task.step,
    hparams, task.batches, evaluate=task.evaluate)``."""

    init: Callable
    step: Callable
    evaluate: Callable
    batches: jax.Array
    params: Any


def task(
    data: Data,
    steps: int,
    *,
    schedules: Sequence[str] = SCHEDULES,
    optimizers: Sequence[str] = tuple(DIRECTIONS),
    sizes: Sequence[int] = SIZES,
    batch: int = 64,
    seed: int = 0,
) -> Task:
    """The digits MLP as a sweep member: batches of ``batch`` rows for ``steps`` steps,
    evaluation of validation loss and accuracy (``val_loss``, ``val_error`` = 1 -
    accuracy, so that lower is better for both)."""
    params = init_mlp(jax.random.key(seed), sizes)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_val, y_val = jnp.asarray(data.x_val), jnp.asarray(data.y_val)
    batches = jnp.asarray(batch_indices(len(x), steps, batch, seed + 1))
    optimizer(  # check the names once, outside any trace
        {"optimizer": 0, "family": 0, "peak": 1.0}, steps, schedules, optimizers
    )

    def make(hp):
        return optimizer(hp, steps, schedules, optimizers)

    def init(hp):
        return params, make(hp).init(params)

    def step(carry, b, hp):
        p, s = carry
        value, g = jax.value_and_grad(loss)(p, x[b], y[b])
        u, s = make(hp).update(g, s, p)
        return (optax.apply_updates(p, u), s), value

    def evaluate(carry, hp):
        p = carry[0]
        return {"val_loss": loss(p, x_val, y_val), "val_error": 1 - accuracy(p, x_val, y_val)}

    return Task(init, step, evaluate, batches, params)
