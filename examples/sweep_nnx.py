"""Sweep peak learning rate x warmup for a Flax NNX MLP on scikit-learn's digits.

    python examples/sweep_nnx.py [--steps 300] [--quick]

The carry is the model and its `nnx.Optimizer`, built in ``init`` from the member's traced
hyperparameters (Adam under warmup + cosine decay); ``step`` updates them in place as NNX
code does. `lrjax.sweep.run` trains the 4 x 3 settings as one vmapped program on the same
minibatches, evaluates the validation loss every ``--steps // 4`` steps, and the winner's
model comes back with `lrjax.sweep.member_carry`. Printed: one line per member (peak,
warmup, final validation loss, validation accuracy) and the winner. Needs scikit-learn.
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import lrjax
import lrjax.schedules as S
from lrjax.sweep import digits, member_carry, run, space


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(64, 64, rngs=rngs)
        self.out = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


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
        logits = model(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), logits

    def init(hp):
        model = MLP(nnx.Rngs(0))
        schedule = S.warmup(S.cosine_decay(hp["peak"], steps - hp["warmup"]), hp["warmup"])
        return model, nnx.Optimizer(model, lrjax.adam(schedule), wrt=nnx.Param)

    def step(carry, batch, hp):
        model, opt = carry
        (loss, _), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch["x"], batch["y"])
        opt.update(model, grads)
        return (model, opt), loss

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
        score="val_loss", return_carry=True,
    )  # fmt: skip

    print(f"{result.size} members x {steps} steps, Flax NNX MLP on digits")
    print(f"  {'peak/warmup':<16s} {'val_loss':>9s} {'val_acc':>8s}")
    for row in result.rows():
        label = f"{row['peak']:.3g}/{row['warmup']}"
        print(f"  {label:<16s} {row['final_val_loss']:9.4f} {row['final_val_acc']:8.4f}")
    best = result.best
    model, opt = member_carry(init, hp, result.carry, best)
    _, logits = loss_fn(model, x_val, y_val)
    accuracy = float(jnp.mean(logits.argmax(-1) == y_val))
    print(f"  {'winner':<16s} {result.scores()[best]:9.4f} {accuracy:8.4f}")
    print(f"winner: peak {float(hp['peak'][best]):.3g}, warmup {int(hp['warmup'][best])}, "
          f"last rate {float(lrjax.applied_lr(opt)):.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
