"""Sweep peak learning rate x warmup for an Equinox MLP on scikit-learn's digits.

    python examples/sweep_equinox.py [--steps 300] [--quick]

The carry is the `eqx.nn.MLP` itself and its optax state; ``step`` rebuilds the optimizer
(Adam under warmup + cosine decay) from the member's traced hyperparameters, as Equinox
code does without an optimizer object. `lrjax.sweep.run` trains the 4 x 3 settings as one
vmapped program on the same minibatches and evaluates the validation loss every
``--steps // 4`` steps. Printed: one line per member (peak, warmup, final validation
loss, validation accuracy), the winner, and the rates it applied. Needs scikit-learn.
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
import lrjax.schedules as S
from lrjax.sweep import digits, run, space


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100 steps")
    args = parser.parse_args()
    steps = 100 if args.quick else args.steps

    data = digits.load()  # scaled to [-0.5, 0.5]; train / validation / test 60/20/20
    x, y, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    rows = np.random.default_rng(1).integers(0, len(x), (steps, 64))
    batches = {"x": x[rows], "y": y[rows]}  # (steps, 64, ...): shared by every member

    def loss_fn(model, x, y):
        logits = jax.vmap(model)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    def optimizer(hp):  # a member's optimizer, from its (traced) hyperparameters
        return lrjax.adam(S.warmup(S.cosine_decay(hp["peak"], steps - hp["warmup"]), hp["warmup"]))

    def init(hp):
        model = eqx.nn.MLP(64, 10, 64, 1, activation=jnp.tanh, key=jax.random.key(0))
        return model, optimizer(hp).init(eqx.filter(model, eqx.is_array))

    def step(carry, batch, hp):
        model, opt_state = carry
        grad_fn = eqx.filter_value_and_grad(loss_fn, has_aux=True)
        (loss, _), grads = grad_fn(model, batch["x"], batch["y"])
        params = eqx.filter(model, eqx.is_array)
        updates, opt_state = optimizer(hp).update(grads, opt_state, params)
        return (eqx.apply_updates(model, updates), opt_state), loss

    def evaluate(carry, hp):
        loss, logits = loss_fn(carry[0], x_val, y_val)
        return {"val_loss": loss, "val_acc": jnp.mean(logits.argmax(-1) == y_val)}

    hp = space.grid(
        {
            "peak": space.log_uniform(1e-3, 1.0),
            "warmup": space.choice([0, steps // 10, steps // 4]),
        },
        points={"peak": 4},
    )
    result = run(
        init, step, hp, batches, evaluate=evaluate, eval_every=max(1, steps // 4),
        score="val_loss",
    )  # fmt: skip

    print(f"{result.size} members x {steps} steps, Equinox MLP on digits")
    print(f"  {'peak/warmup':<16s} {'val_loss':>9s} {'val_acc':>8s}")
    for row in result.rows():
        label = f"{row['peak']:.3g}/{row['warmup']}"
        print(f"  {label:<16s} {row['final_val_loss']:9.4f} {row['final_val_acc']:8.4f}")
    best = result.best
    loss, acc = result.evals["val_loss"][best, -1], result.evals["val_acc"][best, -1]
    print(f"  {'winner':<16s} {loss:9.4f} {acc:8.4f}")
    lrs = result.lrs[best]
    print(f"winner: peak {float(hp['peak'][best]):.3g}, warmup {int(hp['warmup'][best])}, "
          f"rates applied {lrs[0]:.3g} .. max {lrs.max():.3g} .. {lrs[-1]:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
