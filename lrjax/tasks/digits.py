"""`lrjax sweep`'s default task: the digits MLP (`lrjax.sweep.digits`) as a `Task`.

The space is schedule family x optimizer x peak rate (log-uniform on [1e-4, 3]); the
score is the validation loss (minimised); the winner is retrained alone and scored on the
held-out test split (the loss first, as the score; then the accuracy, which on 359
test images moves in steps of 0.28%); the baseline is the peers' default, Adam at a
constant 1e-3 (``optax.adam(1e-3)``, which is also ``torch.optim.Adam()``'s default).
Needs scikit-learn (the ``demo`` extra) for the data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from lrjax.sweep import digits
from lrjax.sweep import space as sp
from lrjax.sweep.task import Task, check_memory
from lrjax.transforms import scale_by_learning_rate

SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "one_cycle", "wsd")
"""The schedule families swept by default (of `lrjax.sweep.digits.SCHEDULES`)."""

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
"""The optimizers swept by default (of `lrjax.sweep.digits.DIRECTIONS`)."""


def task(steps: int = 500, seed: int = 0, batch: int = 64) -> Task:
    """The digits MLP trained for ``steps`` steps of ``batch`` rows; ``seed`` sets the
    split, the initial weights and the batches. Every schedule family and optimizer of
    `lrjax.sweep.digits` may be named in the space; the default space sweeps
    `SCHEDULES` x `OPTIMIZERS` x 10 peak rates on a grid (240 settings)."""
    for name, value, low in (("steps", steps, 10), ("seed", seed, 0), ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"digits: {name} must be an integer >= {low}, got {value!r}")
    train_rows = digits.split_sizes()[0]
    if batch > train_rows:
        raise ValueError(
            f"digits: batch must be at most the {train_rows} training rows, got {batch}"
        )
    check_memory(f"digits: {steps} steps of batch {batch} (their indices)", 12 * steps * batch)
    data = digits.load(seed)
    schedules, optimizers = digits.SCHEDULES, tuple(digits.DIRECTIONS)
    member = digits.task(
        data, steps, schedules=schedules, optimizers=optimizers, batch=batch, seed=seed
    )
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    @jax.jit
    def test(hp):
        carry, _ = jax.lax.scan(lambda c, b: member.step(c, b, hp), member.init(hp), member.batches)
        p = carry[0]
        return {
            "test_loss": digits.loss(p, x_test, y_test),
            "test_accuracy": digits.accuracy(p, x_test, y_test),
            **member.evaluate(carry, hp),
        }

    def with_rate(rate):
        def make(hp):
            direction = digits.select(
                hp["optimizer"], [digits.DIRECTIONS[name]() for name in optimizers]
            )
            return optax.chain(direction, scale_by_learning_rate(rate))

        def init(hp):
            return member.params, make(hp).init(member.params)

        def step(carry, b, hp):
            p, s = carry
            value, g = jax.value_and_grad(digits.loss)(p, x[b], y[b])
            u, s = make(hp).update(g, s, p)
            return (optax.apply_updates(p, u), s), value

        return init, step

    return Task(
        name="digits MLP",
        space={
            "family": sp.choice([schedules.index(s) for s in SCHEDULES]),
            "optimizer": sp.choice([optimizers.index(o) for o in OPTIMIZERS]),
            "peak": sp.log_uniform(1e-4, 3.0),
        },
        init=member.init,
        step=member.step,
        evaluate=member.evaluate,
        batches=member.batches,
        score="val_loss",
        mode="min",
        labels={"family": schedules, "optimizer": optimizers},
        test=test,
        headline="test_loss",
        test_mode="min",
        baselines={
            "optax.adam(1e-3), constant (= torch.optim.Adam() defaults)": {
                "family": "constant",
                "optimizer": "adam",
                "peak": 1e-3,
            }
        },
        with_rate=with_rate,
        defaults={"sampler": "grid", "points": 10},
        description=(
            f"A {'-'.join(map(str, digits.SIZES))} tanh MLP on scikit-learn's 8x8 digits "
            f"(1797 images split 60/20/20 by a seeded shuffle), {steps} steps of batch "
            f"{batch}, every member from the same weights and batches."
        ),
    )
