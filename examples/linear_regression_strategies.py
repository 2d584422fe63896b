"""Least-squares linear regression by minibatch SGD under six learning-rate strategies.

    python examples/linear_regression_strategies.py [--steps 800] [--quick] [--out DIR]

The data: 1024 points with 20 features whose scales run from 0.5 to 2 (a condition number
of 16), targets from fixed true weights plus Gaussian noise of standard deviation 0.5, all
drawn from one seed. Every strategy starts from w = 0 at the same rate, sees the same
minibatches of 32, and runs plain SGD:

    fixed        constant rate
    exponential  decay to 1% of the rate at the last step
    bounded exp  the same exponential decay, floored at 10% of the rate by `S.clip`
    random       a fresh log-uniform draw in [rate / 10, rate] every step (keyed)
    adaptive     `lrjax.reduce_on_plateau`: halve the rate when an epoch's mean loss (fed
                 through ``value=``) has not improved by 1% for two epochs
    linear       a straight line to 0 at the last step

The five schedules are one vmapped program: `S.switch` picks each member's family by an
integer index. Reduce-on-plateau is another optimizer (it reads the loss), so it is a second
call of the same jitted training function. Printed per strategy: the rate at the end, the
full-data loss, its excess over the least-squares optimum, and the distance to the true
weights. Writes ``strategies.png`` (excess loss and learning rate per step, log scales).
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

N, DIM, BATCH, NOISE, RATE = 1024, 20, 32, 0.5, 0.05
SCHEDULES = ("fixed", "exponential", "bounded exp", "random", "linear")  # via S.switch
STRATEGIES = ("fixed", "exponential", "bounded exp", "random", "adaptive", "linear")


def make_data(seed: int = 0):
    """Features with scales 0.3..3, true weights, noisy targets."""
    kx, kw, kn = jax.random.split(jax.random.key(seed), 3)
    scales = jnp.geomspace(0.5, 2.0, DIM)
    x = jax.random.normal(kx, (N, DIM)) * scales
    w_true = jax.random.normal(kw, (DIM,))
    y = x @ w_true + NOISE * jax.random.normal(kn, (N,))
    return x, y, w_true


def mse(w, x, y):
    return jnp.mean((x @ w - y) ** 2)


def batch_indices(steps: int, seed: int = 1) -> jax.Array:
    """(steps, BATCH) rows: whole epochs of a seeded permutation."""
    rng = np.random.default_rng(seed)
    epochs = -(-steps * BATCH // N)
    idx = np.concatenate([rng.permutation(N) for _ in range(epochs)])
    return jnp.asarray(idx[: steps * BATCH].reshape(steps, BATCH))


def schedule(index, steps: int) -> S.Schedule:
    """Family ``SCHEDULES[index]``; ``index`` may be traced (`S.switch`)."""
    return S.switch(
        index,
        [
            S.constant(RATE),
            S.exponential_decay(RATE, 0.01, steps),
            S.clip(S.exponential_decay(RATE, 0.01, steps), floor=RATE / 10),
            S.random_uniform(jax.random.key(7), RATE / 10, RATE, log_scale=True),
            S.linear(RATE, 0.0, steps),
        ],
    )


def train(opt, x, y, idx):
    """SGD steps over the minibatches ``idx``; the loss reaches the optimizer as ``value=``.
    Returns the final weights, the full-data loss and the applied rate after every step."""

    def step(carry, b):
        w, state = carry
        loss, g = jax.value_and_grad(mse)(w, x[b], y[b])
        u, state = opt.update(g, state, w, value=loss)
        w = optax.apply_updates(w, u)
        return (w, state), (mse(w, x, y), lrjax.applied_lr(state))

    w0 = jnp.zeros(x.shape[1])
    (w, _), (losses, lrs) = jax.lax.scan(step, (w0, opt.init(w0)), idx)
    return w, losses, lrs


def run(steps: int, seed: int = 0) -> tuple[dict[str, dict], dict[str, float]]:
    """Per strategy: final weights, full-data losses, applied rates, excess losses and the
    distance to the true weights; and the least-squares solution's loss and distance."""
    x, y, w_true = make_data(seed)
    idx = batch_indices(steps)

    def scheduled(index):
        return train(lrjax.sgd(schedule(index, steps)), x, y, idx)

    def adaptive():
        plateau = lrjax.reduce_on_plateau(0.5, 1, 1e-2, accumulation_size=N // BATCH)
        return train(optax.chain(lrjax.sgd(RATE), plateau), x, y, idx)

    w, losses, lrs = jax.jit(jax.vmap(scheduled))(jnp.arange(len(SCHEDULES)))
    runs = {name: (w[i], losses[i], lrs[i]) for i, name in enumerate(SCHEDULES)}
    runs["adaptive"] = jax.jit(adaptive)()

    w_ls = np.linalg.lstsq(np.asarray(x), np.asarray(y), rcond=None)[0]
    optimum = float(mse(jnp.asarray(w_ls), x, y))
    results = {}
    for name in STRATEGIES:
        w, losses, lrs = (np.asarray(a, np.float64) for a in runs[name])
        results[name] = {
            "w": w,
            "losses": losses,
            "lrs": lrs,
            "excess": np.maximum(losses - optimum, 1e-12),
            "distance": float(np.linalg.norm(w - np.asarray(w_true))),
        }
    reference = {"loss": optimum, "distance": float(np.linalg.norm(w_ls - np.asarray(w_true)))}
    return results, reference


def plot(results: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, r in results.items():
        ax_loss.plot(r["excess"], label=name, lw=1.2)
        ax_lr.plot(r["lrs"], label=name, lw=1.0, alpha=0.35 if name == "random" else 1.0)
    ax_loss.set(
        title="full-data loss above the least-squares optimum",
        xlabel="step",
        ylabel="excess MSE",
        yscale="log",
    )
    ax_lr.set(title="learning rate applied", xlabel="step", ylabel="learning rate", yscale="log")
    for ax in (ax_loss, ax_lr):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(f"linear regression, {DIM} features, SGD with minibatches of {BATCH}")
    fig.tight_layout()
    path = out / "strategies.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--quick", action="store_true", help="200 steps")
    default_out = Path("example_output/linear_regression_strategies")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    steps = 200 if args.quick else args.steps

    t0 = time.perf_counter()
    results, reference = run(steps)
    elapsed = time.perf_counter() - t0
    print(f"SGD on least squares, {steps} steps of {BATCH}, start rate {RATE} ({elapsed:.1f} s)")
    print(f"  {'strategy':14s} {'final lr':>9s} {'loss':>8s} {'excess':>9s} {'|w - w*|':>9s}")
    optimum = reference["loss"]
    for name, r in results.items():
        loss = r["losses"][-1]
        print(
            f"  {name:14s} {r['lrs'][-1]:9.2e} {loss:8.4f} {loss - optimum:9.2e} "
            f"{r['distance']:9.4f}"
        )
    print(f"  {'least squares':14s} {'':9s} {optimum:8.4f} {0:9.2e} {reference['distance']:9.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot(results, args.out)}")


if __name__ == "__main__":
    main()
