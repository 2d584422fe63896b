"""SGD, momentum, AdaGrad, RMSprop and Adam on the digits MLP, each at its best peak rate.

    python examples/digits_optimizers.py [--steps 1000] [--quick] [--out DIR]

The task is `lrjax.sweep.digits`: a 64-64-10 tanh MLP on scikit-learn's 8x8 digits,
minibatches of 64, the same initial weights and batches for every member. Each optimizer
runs at a constant rate from a log grid (1e-4 to 10, half a decade apart); all
optimizer x rate pairs train at once as one vmapped program (`lrjax.sweep.run`). The rate
of each optimizer is chosen on the validation split alone (lowest final validation error,
then loss); its test accuracy and loss are reported. The test metrics are computed for
every member during the run (they are cheap) but never used to choose.

Writes ``optimizers.png``: validation accuracy and training loss per step for each
optimizer at its chosen rate, and final validation accuracy against the rate.
Needs the ``demo`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import lrjax.sweep
from lrjax.sweep import digits, space

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


def run(steps: int = 1000, points: int = 11, eval_every: int = 50, seed: int = 0) -> dict:
    """The sweep result, the grid, and per optimizer the chosen member's index."""
    data = digits.load(seed)
    task = digits.task(data, steps, schedules=("constant",), optimizers=OPTIMIZERS, seed=seed)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    def evaluate(carry, hp):
        params = carry[0]
        return {
            **task.evaluate(carry, hp),
            "test_loss": digits.loss(params, x_test, y_test),
            "test_error": 1 - digits.accuracy(params, x_test, y_test),
        }

    hp = space.grid(
        {
            "family": 0,  # the only schedule family: constant
            "optimizer": space.choice(list(range(len(OPTIMIZERS)))),
            "peak": space.log_uniform(1e-4, 10.0),
        },
        points={"peak": points},
    )
    result = lrjax.sweep.run(
        task.init, task.step, hp, task.batches, evaluate=evaluate, eval_every=eval_every
    )
    final = {k: v[:, -1] for k, v in result.evals.items()}
    chosen = {}
    for i, name in enumerate(OPTIMIZERS):
        members = np.flatnonzero(result.hparams["optimizer"] == i)
        val_error = np.nan_to_num(final["val_error"][members], nan=1.0)
        val_loss = np.nan_to_num(final["val_loss"][members], nan=np.inf)
        chosen[name] = int(members[np.lexsort((val_loss, val_error))[0]])
    return {"result": result, "final": final, "chosen": chosen}


def plot(out: dict, steps: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result, chosen = out["result"], out["chosen"]
    peaks = result.hparams["peak"]
    fig, (ax_val, ax_loss, ax_rate) = plt.subplots(1, 3, figsize=(16, 4.6))
    window = max(1, steps // 50)
    kernel = np.ones(window) / window
    for i, (name, m) in enumerate(chosen.items()):
        label = f"{name} (lr {peaks[m]:.2g})"
        color = f"C{i}"
        ax_val.plot(result.eval_steps, 1 - result.evals["val_error"][m], color=color, label=label)
        smooth = np.convolve(result.losses[m], kernel, mode="valid")
        ax_loss.plot(np.arange(len(smooth)) + window - 1, smooth, color=color, label=label)
        members = np.flatnonzero(result.hparams["optimizer"] == i)
        acc = 1 - out["final"]["val_error"][members]
        ax_rate.plot(peaks[members], acc, "o-", color=color, label=name, ms=4)
        ax_rate.plot(peaks[m], acc[members == m], "*", color=color, ms=14)
    ax_val.set(title="validation accuracy (chosen rate)", xlabel="step", ylabel="accuracy")
    lowest = min(1 - np.nanmax(result.evals["val_error"][m]) for m in chosen.values())
    ax_val.set_ylim(max(0.0, lowest - 0.02), 1.0)
    ax_loss.set(
        title=f"training loss ({window}-step moving average)",
        xlabel="step",
        ylabel="cross-entropy",
        yscale="log",
    )
    ax_rate.set(
        title="final validation accuracy vs rate (star: chosen)",
        xlabel="constant learning rate",
        ylabel="accuracy",
        xscale="log",
    )
    ax_rate.set_ylim(0, 1.02)
    for ax in (ax_val, ax_loss, ax_rate):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"digits MLP 64-64-10, {steps} steps of 64, five optimizers")
    fig.tight_layout()
    file = path / "optimizers.png"
    fig.savefig(file, dpi=100)
    plt.close(fig)
    return file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--points", type=int, default=11, help="rates in the grid per optimizer")
    parser.add_argument("--quick", action="store_true", help="300 steps, 6 rates")
    parser.add_argument("--out", type=Path, default=Path("example_output/digits_optimizers"))
    args = parser.parse_args()
    steps, points = (300, 6) if args.quick else (args.steps, args.points)

    t0 = time.perf_counter()
    out = run(steps, points, eval_every=max(1, steps // 40))
    elapsed = time.perf_counter() - t0
    result, final = out["result"], out["final"]
    print(
        f"digits MLP, {steps} steps of 64, {result.size} members "
        f"({len(OPTIMIZERS)} optimizers x {points} rates) in one program ({elapsed:.1f} s)"
    )
    print(f"  {'optimizer':10s} {'lr':>7s} {'val acc':>8s} {'test acc':>9s} {'test loss':>10s}")
    for name, m in out["chosen"].items():
        print(
            f"  {name:10s} {result.hparams['peak'][m]:7.2g} {1 - final['val_error'][m]:8.4f} "
            f"{1 - final['test_error'][m]:9.4f} {final['test_loss'][m]:10.4f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot(out, steps, args.out)}")


if __name__ == "__main__":
    main()
