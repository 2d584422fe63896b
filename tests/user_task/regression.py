"""A user's own task, written outside lrjax: linear regression in plain JAX.

The tests copy this file into a temporary folder and run it through ``lrjax sweep
--task <file>.py:task`` (and ``module:make``), so nothing here is part of lrjax. The
training is SGD with momentum on minibatches of a fixed synthetic data set; the space is
the peak rate, the schedule (named) and the momentum; the score is the validation mean
squared error.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
from lrjax import schedules as S
from lrjax.sweep import space as sp
from lrjax.sweep.task import Task

SCHEDULES = ("constant", "cosine")


def make(steps: int = 30, seed: int = 0, noise: float = 0.1) -> Task:
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=8)

    def split(n):
        x = rng.normal(size=(n, 8)).astype(np.float32)
        return jnp.asarray(x), jnp.asarray(x @ w_true + noise * rng.normal(size=n), jnp.float32)

    (x, y), (x_val, y_val), (x_test, y_test) = split(256), split(128), split(128)
    batches = jnp.asarray(rng.integers(0, 256, (steps, 32)), jnp.int32)
    params = {"w": jnp.zeros(8), "b": jnp.zeros(())}

    def mse(p, x, y):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    def optimizer(hp, rate=None):
        if rate is None:
            rate = S.switch(hp["schedule"], [S.constant(hp["lr"]), S.cosine_decay(hp["lr"], steps)])
        return lrjax.sgd(rate, momentum=hp["momentum"])

    def build(rate=None):
        def init(hp):
            return params, optimizer(hp, rate).init(params)

        def step(carry, batch, hp):
            p, state = carry
            loss, g = jax.value_and_grad(mse)(p, x[batch], y[batch])
            updates, state = optimizer(hp, rate).update(g, state, p)
            return (optax.apply_updates(p, updates), state), {"loss": loss}

        return init, step

    init, step = build()

    def evaluate(carry, hp):
        return {"val_mse": mse(carry[0], x_val, y_val)}

    @jax.jit
    def test(hp):
        carry, _ = jax.lax.scan(lambda c, b: step(c, b, hp), init(hp), batches)
        return {"test_mse": mse(carry[0], x_test, y_test), **evaluate(carry, hp)}

    return Task(
        name="linear regression (a user's task)",
        space={
            "lr": sp.log_uniform(1e-3, 3.0),
            "schedule": sp.choice([0, 1]),
            "momentum": sp.uniform(0.0, 0.9),
        },
        init=init,
        step=step,
        evaluate=evaluate,
        batches=batches,
        score="val_mse",
        mode="min",
        labels={"schedule": SCHEDULES},
        test=test,
        baselines={"plain SGD at 1e-3": {"lr": 1e-3, "schedule": "constant", "momentum": 0.0}},
        with_rate=lambda rate: build(rate),
        defaults={"sampler": "grid", "points": 3},
        description="Linear regression on 8 synthetic features, SGD with momentum.",
    )


task = make()
