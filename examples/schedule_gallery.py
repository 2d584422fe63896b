"""Evaluate and plot lrjax schedules, and a vmapped sweep over a schedule's hyperparameters.

Run with ``make demo`` (or ``python examples/schedule_gallery.py --out DIR``). Writes
``gallery.png`` (one panel per schedule family), ``sweep.png`` (a vmapped sweep over
warmup length and peak, with the final losses of a small regression trained with each)
and ``schedules.csv`` (every curve, one column per schedule).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax.schedules as S
from lrjax.compat import keras, timm, torch

STEPS = 400


def gallery() -> dict[str, S.Schedule]:
    cos = S.cosine_decay(peak=0.1, decay_steps=300, final=0.005)
    return {
        "constant": S.constant(0.05),
        "step_decay": S.step_decay(0.1, 0.5, every=80),
        "multi_step": S.multi_step(0.1, [100, 200, 200, 300], 0.5),
        "exponential_decay (end floor)": S.exponential_decay(0.1, 0.5, 60, end=0.01),
        "inverse_time_decay": S.inverse_time_decay(0.1, rate=1.0, steps=20),
        "polynomial_decay (power 2)": S.polynomial_decay(0.1, 0.001, 300, power=2.0),
        "cosine_decay + warmup": S.warmup(cos, 50, init=0.0, shape="cosine"),
        "tanh_decay": S.tanh_decay(0.1, STEPS, final=0.001),
        "warm_restarts (mult 2, decay .7)": S.warm_restarts(0.1, 40, 2, 0.001, decay=0.7),
        "cyclic triangular2": S.cyclic(0.005, 0.1, 30, 20, mode="triangular2"),
        "one_cycle (three phase)": S.one_cycle(0.1, STEPS, 0.25, three_phase=True),
        "warmup_stable_decay (1-sqrt)": S.warmup_stable_decay(
            0.1, 40, 260, 100, decay_shape="1-sqrt"
        ),
        "inverse_sqrt + cool-down": S.inverse_sqrt(0.1, 40, cooldown_steps=80, total_steps=STEPS),
        "clip(exponential)": S.clip(S.exponential_decay(0.2, 0.98), 0.01, 0.08),
        "random_uniform (log)": S.random_uniform(jax.random.key(0), 1e-3, 1e-1, 25, True),
        "noise(cosine)": S.noise(cos, jax.random.key(1), pct=0.3, std=0.5, start=100),
        "torch OneCycleLR": torch.OneCycleLR(0.1, max_lr=0.1, total_steps=STEPS),
        "torch CosineAnnealingLR": torch.CosineAnnealingLR(0.1, T_max=150, eta_min=0.01),
        "keras PolynomialDecay(cycle)": keras.PolynomialDecay(0.1, 120, 0.001, cycle=True),
        "timm TanhLRScheduler": timm.TanhLRScheduler(
            0.1, 150, lr_min=0.001, warmup_t=10, cycle_limit=3, cycle_decay=0.7
        ),
    }


def sweep(out: Path) -> str:
    """Train a least-squares model under 12 warmup-cosine schedules in one vmapped program."""
    x = jax.random.normal(jax.random.key(2), (256, 8))
    w_true = jnp.arange(1.0, 9.0)
    y = x @ w_true + 0.1 * jax.random.normal(jax.random.key(3), (256,))

    def train(schedule):
        opt = optax.sgd(schedule, momentum=0.9)
        w = jnp.zeros(8)

        def step(carry, _):
            w, state = carry
            loss, grad = jax.value_and_grad(lambda w: jnp.mean((x @ w - y) ** 2))(w)
            updates, state = opt.update(grad, state, w)
            return (optax.apply_updates(w, updates), state), loss

        _, losses = jax.lax.scan(step, (w, opt.init(w)), None, length=STEPS)
        return losses

    peaks = jnp.array([0.003, 0.01, 0.03, 0.06])
    warmups = jnp.array([0, 40, 120])
    grid_p, grid_w = (a.ravel() for a in jnp.meshgrid(peaks, warmups, indexing="ij"))
    schedules = jax.vmap(lambda p, w: S.warmup(S.cosine_decay(p, STEPS - w), w))(grid_p, grid_w)
    t0 = time.perf_counter()
    losses = jax.block_until_ready(jax.jit(jax.vmap(train))(schedules))
    elapsed = time.perf_counter() - t0
    curves = jax.vmap(lambda s: s(jnp.arange(STEPS)))(schedules)

    import matplotlib.pyplot as plt

    fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(grid_p)))
    for i, c in enumerate(colors):
        label = f"peak {float(grid_p[i]):g}, warmup {int(grid_w[i])}"
        ax_lr.plot(curves[i], color=c, label=label)
        ax_loss.plot(losses[i], color=c, label=label)
    ax_lr.set(title="12 schedules built by one jax.vmap", xlabel="step", ylabel="learning rate")
    ax_loss.set(title="training loss (one jitted, vmapped program)", xlabel="step", ylabel="MSE")
    ax_loss.set_yscale("log")
    ax_loss.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=110)
    plt.close(fig)
    best = int(jnp.argmin(losses[:, -1]))
    return (
        f"sweep: 12 settings trained in {elapsed:.2f} s (compile included); best final MSE "
        f"{float(losses[best, -1]):.4g} at peak {float(grid_p[best]):g}, "
        f"warmup {int(grid_w[best])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = jnp.arange(STEPS)
    curves = {name: np.asarray(s(steps)) for name, s in gallery().items()}
    cols = 4
    rows = -(-len(curves) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), sharex=True)
    for ax, (name, values) in zip(axes.ravel(), curves.items(), strict=False):
        ax.plot(values, lw=1.4)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    for ax in axes[:, 0]:
        ax.set_ylabel("learning rate")
    for ax in axes.ravel()[len(curves) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out / "gallery.png", dpi=100)
    plt.close(fig)

    with open(args.out / "schedules.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", *curves])
        for k in range(STEPS):
            writer.writerow([k, *(f"{v[k]:.8g}" for v in curves.values())])

    print(sweep(args.out))
    print(
        f"wrote {args.out / 'gallery.png'}, {args.out / 'sweep.png'}, {args.out / 'schedules.csv'}"
    )


if __name__ == "__main__":
    main()
