"""The learning-rate range test on the digits MLP, then training at the rates it suggests.

    python examples/range_test.py [--steps 600] [--quick] [--out DIR]

The model is `lrjax.sweep.digits` (a 64-64-10 tanh MLP, minibatches of 64) trained with
SGD, momentum 0.9. Two range tests (`lrjax.finder`):

* sequential (Smith 2017, fastai's defaults): one run of 400 steps whose rate grows
  exponentially from 1e-4 to 10, stopped when the smoothed loss passes 4x its best;
* parallel: 24 copies at fixed log-spaced rates from 1e-4 to 10, 40 steps each, one
  vmapped program, each scored by its mean loss over the last quarter of its steps.

Each gives three suggestions: ``valley`` (fastai's default), ``steepest``
(torch-lr-finder's) and ``minimum`` (a tenth of the rate at the lowest loss). Then every
suggested rate trains the MLP from scratch for ``--steps`` steps at that constant rate (all
six at once, vmapped) and the validation accuracy is printed. Writes ``range_test.png``:
loss against rate (log x) for both tests, with the suggestions marked.
Needs the ``demo`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
from lrjax import finder
from lrjax.sweep import digits

RULES = ("valley", "steepest", "minimum")


def optimizer(lr):
    return lrjax.sgd(lr, momentum=0.9)


def loss_fn(params, batch):
    return digits.loss(params, *batch)


def run(steps: int = 600, test_steps: int = 400, parallel_steps: int = 40, seed: int = 0):
    """Both range tests, their suggestions, and the validation accuracy at each."""
    data = digits.load(seed)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    params = digits.init_mlp(jax.random.key(seed))

    def batches(n, batch_seed):
        idx = digits.batch_indices(len(x), n, seed=batch_seed)
        return x[idx], y[idx]

    sequential = finder.range_test(
        loss_fn, optimizer, params, batches(test_steps, 1), start_lr=1e-4, end_lr=10.0
    )
    parallel = finder.parallel_range_test(
        loss_fn, optimizer, params, batches(parallel_steps, 1), lrs=np.geomspace(1e-4, 10, 24)
    )
    # A parallel test has one point per rate, not per step: skip none at its ends
    # (`suggest` stops at the first diverged rate, whose score is inf).
    tests = {
        "sequential": (sequential, {}),
        "parallel": (parallel, {"skip_start": 0, "skip_end": 0}),
    }
    suggestions = {
        (name, rule): finder.suggest(test, rule, **skips)
        for name, (test, skips) in tests.items()
        for rule in RULES
    }

    train_x, train_y = batches(steps, 2)
    x_val, y_val = jnp.asarray(data.x_val), jnp.asarray(data.y_val)

    def train(lr):
        opt = optimizer(lr)

        def step(carry, batch):
            p, s = carry
            loss, g = jax.value_and_grad(loss_fn)(p, batch)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss

        (p, _), losses = jax.lax.scan(step, (params, opt.init(params)), (train_x, train_y))
        return digits.accuracy(p, x_val, y_val), losses[-(steps // 10) :].mean()

    rates = jnp.asarray(list(suggestions.values()), jnp.float32)
    accuracy, final_loss = jax.jit(jax.vmap(train))(rates)
    trained = {
        key: (float(a), float(f))
        for key, a, f in zip(suggestions, accuracy, final_loss, strict=True)
    }
    return sequential, parallel, suggestions, trained


def plot(sequential, parallel, suggestions, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    panels = [
        ("sequential", sequential, "loss (raw and smoothed)"),
        ("parallel", parallel, "mean loss of the last 25% of steps"),
    ]
    for ax, (name, test, ylabel) in zip(axes, panels, strict=True):
        if name == "sequential":
            ax.plot(test.lrs, test.losses, color="0.7", lw=0.8, label="raw loss")
            ax.plot(test.lrs, test.smoothed, color="C0", label="smoothed loss")
            title = f"sequential range test ({len(test.lrs)} steps recorded)"
        else:
            ok = np.isfinite(test.smoothed)
            ax.plot(test.lrs[ok], test.smoothed[ok], "o-", color="C0", ms=4, label="score")
            bad = test.lrs[~ok]
            if len(bad):
                ax.axvspan(bad.min(), test.lrs.max(), color="C3", alpha=0.1, label="diverged")
            title = f"parallel range test ({len(test.lrs)} rates, one program)"
        for i, rule in enumerate(RULES):
            lr = suggestions[(name, rule)]
            ax.axvline(lr, color=f"C{i + 1}", ls="--", label=f"{rule}: {lr:.2g}")
        ax.set(title=title, xlabel="learning rate", ylabel=ylabel, xscale="log", yscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("digits MLP, SGD momentum 0.9: learning-rate range tests")
    fig.tight_layout()
    path = out / "range_test.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per rate")
    parser.add_argument("--quick", action="store_true", help="100-step test, 300 training steps")
    parser.add_argument("--out", type=Path, default=Path("example_output/range_test"))
    args = parser.parse_args()
    steps, test_steps = (300, 100) if args.quick else (args.steps, 400)

    t0 = time.perf_counter()
    sequential, parallel, suggestions, trained = run(steps, test_steps)
    elapsed = time.perf_counter() - t0
    stop = "never diverged" if sequential.stop_index is None else "diverged"
    print(
        f"range tests on the digits MLP ({elapsed:.1f} s); the sequential test "
        f"{stop} at step {len(sequential.lrs) - 1}, lr {sequential.lrs[-1]:.3g}"
    )
    print(f"  then {steps} steps of SGD momentum 0.9 at each suggested rate:")
    print(f"  {'test':10s} {'rule':8s} {'lr':>8s} {'val acc':>8s} {'train loss':>10s}")
    for (name, rule), lr in suggestions.items():
        acc, loss = trained[(name, rule)]
        print(f"  {name:10s} {rule:8s} {lr:8.3g} {acc:8.4f} {loss:10.4f}")
    acc = trained[("sequential", "valley")][0]
    verdict = "converges" if acc > 0.9 else "does NOT converge"
    lr = suggestions[("sequential", "valley")]
    print(f"sequential valley suggestion {lr:.3g} {verdict}: val accuracy {acc:.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot(sequential, parallel, suggestions, args.out)}")


if __name__ == "__main__":
    main()
