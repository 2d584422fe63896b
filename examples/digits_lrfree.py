"""Learning-rate-free and online methods against a tuned Adam on scikit-learn's digits.

    python examples/digits_lrfree.py [--steps 1500]

A 64-128-10 tanh MLP, minibatches of 64 from a fixed shuffle, the same initial weights for
every method. Adam's rate is tuned on a validation split (20% of the training set) over a
log grid, all grid points trained at once as one vmapped program; every other method runs
with its defaults (no rate to set) and is scored on the same held-out test set.
Needs the ``demo`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
from lrjax import adaptive

ADAM_GRID = np.geomspace(1e-4, 3e-1, 12)


def load(seed: int = 0):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0 - 0.5).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    n_val = (len(x) - n_test) // 5
    test = (x[:n_test], y[:n_test])
    val = (x[n_test : n_test + n_val], y[n_test : n_test + n_val])
    train = (x[n_test + n_val :], y[n_test + n_val :])
    return train, val, test


def init_mlp(key, sizes=(64, 128, 10)):
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (m, n)) / np.sqrt(m), "b": jnp.zeros(n)}
        for k, m, n in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def logits(params, x):
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x), y).mean()


def accuracy(params, x, y):
    return jnp.mean(jnp.argmax(logits(params, x), -1) == y)


def batches(n_train: int, steps: int, batch: int = 64, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per_epoch = n_train // batch
    epochs = -(-steps // per_epoch)
    idx = np.concatenate([rng.permutation(n_train)[: per_epoch * batch] for _ in range(epochs)])
    return idx[: steps * batch].reshape(steps, batch)


def train(opt, params, data, idx, evaluate=lambda state, params: params):
    x, y = data
    opt = optax.with_extra_args_support(opt)  # the loss goes to those that read it (Polyak)

    def step(carry, b):
        p, s = carry
        loss, g = jax.value_and_grad(loss_fn)(p, x[b], y[b])
        u, s = opt.update(g, s, p, value=loss)
        return (optax.apply_updates(p, u), s), loss

    (p, s), losses = jax.lax.scan(step, (params, opt.init(params)), idx)
    return evaluate(s, p), losses


def methods():
    """name -> (optimizer, how to read the parameters to evaluate)."""
    last = lambda state, params: params  # noqa: E731
    return {
        "prodigy": (adaptive.prodigy(), last),
        "dadapt_adam": (adaptive.dadapt_adam(), last),
        "dadapt_sgd": (adaptive.dadapt_sgd(), last),
        "dadapt_adagrad": (adaptive.dadapt_adagrad(), last),
        "dog (averaged)": (adaptive.polynomial_average(adaptive.dog()), _averaged),
        "ldog (averaged)": (
            adaptive.polynomial_average(adaptive.dog(layerwise=True)),
            _averaged,
        ),
        "schedule_free_adamw (defaults)": (
            adaptive.schedule_free_adamw(),
            lrjax.schedule_free_eval_params,
        ),
        "adam_hd (lr 1e-3)": (adaptive.adam_hd(1e-3), last),
        # Mechanic learns a scale s of the base's steps: with the base at rate 1, s is the
        # learned rate.
        "mechanic (adam, base lr 1)": (adaptive.mechanize(lrjax.adam(1.0)), last),
        "cocob": (adaptive.cocob(), last),
        "dowg": (adaptive.dowg(), last),
        # cross-entropy is >= 0, and an MLP this size nearly interpolates the training set
        "polyak_sgd (f_min 0)": (adaptive.polyak_sgd(), last),
    }


def _averaged(state, params):
    return adaptive.averaged_params(state)


def run(steps: int = 1500, seed: int = 0) -> dict[str, float]:
    """Test accuracy of each method, and of Adam at the rate chosen on validation."""
    train_set, val, test = load(seed)
    idx = jnp.asarray(batches(len(train_set[0]), steps))
    params = init_mlp(jax.random.key(seed))
    data = jax.tree.map(jnp.asarray, train_set)

    def adam_run(lr):
        p, _ = train(lrjax.adam(lr), params, data, idx)
        return accuracy(p, *val), accuracy(p, *test)

    val_acc, test_acc = jax.jit(jax.vmap(adam_run))(jnp.asarray(ADAM_GRID, jnp.float32))
    best = int(np.argmax(np.asarray(val_acc)))
    results = {f"adam (tuned lr {ADAM_GRID[best]:.2g})": float(test_acc[best])}
    for name, (opt, evaluate) in methods().items():
        p, losses = jax.jit(lambda o=opt, e=evaluate: train(o, params, data, idx, e))()
        results[name] = float(accuracy(p, *test)) if np.isfinite(losses[-1]) else float("nan")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    t0 = time.perf_counter()
    results = run(args.steps)
    print(f"digits MLP, {args.steps} steps of 64, test accuracy ({time.perf_counter() - t0:.0f} s)")
    for name, acc in results.items():
        print(f"  {name:32s} {acc:.4f}")


if __name__ == "__main__":
    main()
