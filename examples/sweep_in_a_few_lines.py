"""A vmapped learning-rate sweep in a few lines: 7 peak rates x 4 warmup lengths, one program.

    python examples/sweep_in_a_few_lines.py [--steps 1000]

A 1-32-1 tanh MLP fits sin(3x) from minibatches of 32 with Adam under warmup + cosine decay.
The search space is peak rate x warmup steps (`lrjax.sweep.space.grid`); `lrjax.sweep.run`
vmaps one member's training over the 28 settings and scans over the steps inside one
`jax.jit`. Printed: the five best settings by full-data MSE after training.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import optax

import lrjax
import lrjax.schedules as S
from lrjax.sweep import space

X = jnp.linspace(-2, 2, 256)[:, None]
Y = jnp.sin(3 * X)
KEYS = jax.random.split(jax.random.key(0), 3)
PARAMS = {  # a 1-32-1 tanh MLP
    "w1": jax.random.normal(KEYS[0], (1, 32)),
    "b1": jnp.zeros(32),
    "w2": jax.random.normal(KEYS[1], (32, 1)) / jnp.sqrt(32.0),
}


def mse(p, rows):
    pred = jnp.tanh(X[rows] @ p["w1"] + p["b1"]) @ p["w2"]
    return jnp.mean((pred - Y[rows]) ** 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    steps = parser.parse_args().steps

    def optimizer(hp):  # one member's optimizer, from its hyperparameters
        decay = S.cosine_decay(hp["peak"], steps - hp["warmup"])
        return lrjax.adam(S.warmup(decay, hp["warmup"]))

    def init(hp):
        return PARAMS, optimizer(hp).init(PARAMS)

    def step(carry, rows, hp):
        p, state = carry
        loss, g = jax.value_and_grad(mse)(p, rows)
        updates, state = optimizer(hp).update(g, state, p)
        return (optax.apply_updates(p, updates), state), loss

    def evaluate(carry, hp):
        return {"mse": mse(carry[0], jnp.arange(len(X)))}

    hp = space.grid(
        {"peak": space.log_uniform(3e-3, 3.0), "warmup": space.int_uniform(0, steps // 4)},
        points={"peak": 7, "warmup": 4},
    )
    batches = jax.random.randint(KEYS[2], (steps, 32), 0, len(X))
    t0 = time.perf_counter()
    result = lrjax.sweep.run(init, step, hp, batches, evaluate=evaluate)
    seconds = time.perf_counter() - t0

    rows = sorted(result.rows(), key=lambda r: r["final_mse"])
    print(f"{result.size} settings x {steps} steps of Adam, one program: {seconds:.1f} s")
    print(f"worst full-data MSE {rows[-1]['final_mse']:.2e}; the best five:")
    print(f"  {'peak':>6s} {'warmup':>6s} {'MSE':>10s}")
    for r in rows[:5]:
        print(f"  {r['peak']:6.3g} {r['warmup']:6d} {r['final_mse']:10.3e}")


if __name__ == "__main__":
    main()
