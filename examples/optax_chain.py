"""lrjax pieces inside ordinary optax code, with the applied rate logged every step.

    python examples/optax_chain.py [--steps 200] [--quick] [--out DIR]

A noisy least-squares problem (8 weights, minibatches of 16) trained by a plain Python loop
over a jitted step, as most training scripts are written. Four optimizers:

* ``clip + adam``: ``optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(schedule))``
  with ``schedule = S.warmup(S.cosine_decay(0.1, ...), ...)`` over all the steps;
* ``MultiSteps(k=4)``: the same chain inside ``optax.MultiSteps(..., every_k_schedule=4)``,
  which accumulates 4 minibatches per update. The inner schedule counts updates, so it
  is built over steps / 4 updates and the applied rate changes once per 4 steps;
* ``inject sgd``: ``optax.inject_hyperparams(lrjax.sgd)(learning_rate=0.05,
  momentum=0.9)``, its rate cut to a fifth from the host halfway through;
* ``adam + plateau``: ``optax.chain(lrjax.adam(0.1), lrjax.reduce_on_plateau(...))``,
  which reads the loss through ``update(..., value=loss)`` and halves the rate when the
  mean loss of 5 steps has not improved for 3 such windows.

``lrjax.applied_lr(state)`` finds the lrjax state inside each wrapper and reports the rate
the last update used (for the plateau chain, the scheduled rate times the plateau factor).
Printed: the applied rate and loss at a few steps, and a check that the first optimizer's
logged rates equal its schedule. Writes ``optax_chain.png`` (rate and loss per step).
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
import lrjax.schedules as S

DIM, N, BATCH = 8, 512, 16


def problem(seed: int = 0):
    kx, kw, kn = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(kx, (N, DIM))
    y = x @ jax.random.normal(kw, (DIM,)) + 0.3 * jax.random.normal(kn, (N,))
    return x, y


def mse(w, x, y):
    return jnp.mean((x @ w - y) ** 2)


def warmup_cosine(peak: float, updates: int) -> S.Schedule:
    warm = max(1, updates // 10)
    return S.warmup(S.cosine_decay(peak, updates - warm, final=peak / 100), warm, init=peak / 10)


def optimizers(steps: int) -> tuple[dict[str, optax.GradientTransformation], S.Schedule]:
    """The four optimizers, and the schedule of the first."""
    schedule = warmup_cosine(0.1, steps)
    # MultiSteps makes one update per 4 steps: its schedule counts updates, not steps.
    accumulated = optax.chain(
        optax.clip_by_global_norm(1.0), lrjax.adam(warmup_cosine(0.1, steps // 4))
    )
    return {
        "clip + adam": optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(schedule)),
        "MultiSteps(k=4)": optax.MultiSteps(accumulated, every_k_schedule=4),
        "inject sgd": optax.inject_hyperparams(lrjax.sgd)(learning_rate=0.05, momentum=0.9),
        "adam + plateau": optax.chain(
            lrjax.adam(0.1),
            lrjax.reduce_on_plateau(factor=0.5, patience=2, accumulation_size=5),
        ),
    }, schedule


def train(opt, x, y, steps: int, seed: int = 1) -> dict[str, np.ndarray]:
    """A host loop: one jitted step per minibatch, the applied rate logged after each."""

    @jax.jit
    def step(w, state, rows):
        loss, g = jax.value_and_grad(mse)(w, x[rows], y[rows])
        updates, state = opt.update(g, state, w, value=loss)
        return optax.apply_updates(w, updates), state, loss

    rows = jax.random.randint(jax.random.key(seed), (steps, BATCH), 0, N)
    w = jnp.zeros(DIM)
    state = opt.init(w)
    lrs, losses = [], []
    for k in range(steps):
        if k == steps // 2 and hasattr(state, "hyperparams"):  # an injected rate, set by hand
            state.hyperparams["learning_rate"] = jnp.asarray(0.01)
        w, state, loss = step(w, state, rows[k])
        lrs.append(float(lrjax.applied_lr(state)))
        losses.append(float(loss))
    return {"lr": np.array(lrs), "loss": np.array(losses)}


def plot(logs: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, log in logs.items():
        ax_lr.plot(log["lr"], label=name, drawstyle="steps-post")
        ax_loss.plot(log["loss"], label=name, lw=1.0)
    ax_lr.set(
        title="lrjax.applied_lr(state) after each step",
        xlabel="step",
        ylabel="learning rate",
        yscale="log",
    )
    ax_loss.set(title="minibatch loss", xlabel="step", ylabel="MSE", yscale="log")
    for ax in (ax_lr, ax_loss):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("lrjax inside optax chains, wrappers and inject_hyperparams")
    fig.tight_layout()
    path = out / "optax_chain.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="100 steps")
    parser.add_argument("--out", type=Path, default=Path("example_output/optax_chain"))
    args = parser.parse_args()
    steps = 100 if args.quick else args.steps

    t0 = time.perf_counter()
    x, y = problem()
    opts, schedule = optimizers(steps)
    logs = {name: train(opt, x, y, steps) for name, opt in opts.items()}
    print(f"{len(opts)} optimizers x {steps} logged steps ({time.perf_counter() - t0:.1f} s)")
    print(f"  {'step':>4s}" + "".join(f" {name:>22s}" for name in logs))
    print(f"  {'':4s}" + f" {'lr':>10s} {'loss':>11s}" * len(logs))
    shown = sorted({0, 1, 2, 3, 4, 5, 9, 10, steps // 2 - 1, steps // 2, steps - 1})
    for k in shown:
        cells = "".join(f" {log['lr'][k]:10.3e} {log['loss'][k]:11.4e}" for log in logs.values())
        print(f"  {k:4d}{cells}")
    gap = np.abs(logs["clip + adam"]["lr"] - np.asarray(schedule(jnp.arange(steps)))).max()
    print(f"clip + adam: max |applied_lr - schedule(step)| over all steps = {gap:.1e}")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot(logs, args.out)}")


if __name__ == "__main__":
    main()
