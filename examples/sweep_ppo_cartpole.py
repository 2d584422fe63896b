"""Sweep PPO's learning rate, annealing, warmup and seed on gymnax's CartPole-v1.

    python examples/sweep_ppo_cartpole.py [--members 16] [--form train|steps]
        [--tensorboard DIR] [--checkpoint DIR] [--quick]

The training is `lrjax.tasks.cartpole`, PureJaxRL's layout written for this repository: a
Linen `TrainState` (its optimizer built from the member's traced hyperparameters), the
environments' states and a PRNG key in the carry. ``--form train`` sweeps the whole
program, ``train(hp) -> per-update metrics``, with `lrjax.sweep.run_train` (one
``jax.jit(jax.vmap(train))``, sharded and gathered); ``--form steps`` sweeps one update
per step with `lrjax.sweep.run`, which also streams every segment to TensorBoard
(``--tensorboard``) and checkpoints it (``--checkpoint``; run again with the same folder
to resume after an interruption). Score: the mean episode return over the last quarter
of the updates, maximised. Printed: one line per member (lr/anneal/warmup/seed, score,
last update's return) and the winner. Needs ``lrjax[rl]``.
"""

from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
import numpy as np

from lrjax import sweep
from lrjax.sweep import logs
from lrjax.tasks.cartpole import Config, make_step, make_train


def population(members: int, seed: int = 0) -> dict:
    """Random settings: lr log-uniform on [1e-4, 3e-3], anneal 0 (to zero) or 1 (constant),
    warmup 0..9 updates, one seed each."""
    rng = np.random.default_rng(seed)
    return {
        "lr": jnp.asarray(10 ** rng.uniform(-4, np.log10(3e-3), members), jnp.float32),
        "anneal": jnp.asarray(rng.choice([0.0, 1.0], members), jnp.float32),
        "warmup": jnp.asarray(rng.integers(0, 10, members), jnp.int32),
        "seed": jnp.arange(members, dtype=jnp.int32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--form", choices=["train", "steps"], default="train")
    parser.add_argument("--tensorboard", default=None, help="stream to this log folder")
    parser.add_argument("--checkpoint", default=None, help="checkpoint (and resume) here")
    parser.add_argument("--quick", action="store_true", help="6 members, 30 updates")
    args = parser.parse_args()
    config = Config(total_timesteps=30 * 4 * 128) if args.quick else Config()
    hp = population(6 if args.quick else args.members)

    t0 = time.perf_counter()
    if args.form == "train":
        result = sweep.run_train(make_train(config), hp, score="return", mode="max")
    else:
        init, step = make_step(config)
        writer = logs.TensorBoard(args.tensorboard) if args.tensorboard else None
        result = sweep.run(
            init, step, hp, steps=config.num_updates, eval_every=max(1, config.num_updates // 10),
            score="return", mode="max", callback=writer, checkpoint=args.checkpoint,
            resume=args.checkpoint is not None,
        )  # fmt: skip
        if writer is not None:
            writer.close()
    seconds = time.perf_counter() - t0

    print(
        f"{result.size} members x {config.num_updates} updates ({args.form} form), {seconds:.1f} s"
    )
    print(f"  {'lr/anneal/warmup/seed':<28s} {'score':>8s} {'last':>8s}")
    scores, last = result.scores(), result.metrics["return"][:, -1]
    for i in range(result.size):
        label = (
            f"{float(hp['lr'][i]):.2e}/{float(hp['anneal'][i]):g}/"
            f"{int(hp['warmup'][i])}/{int(hp['seed'][i])}"
        )
        print(f"  {label:<28s} {scores[i]:8.1f} {last[i]:8.1f}")
    best = result.best
    print(f"  {'winner':<28s} {scores[best]:8.1f} {last[best]:8.1f}")


if __name__ == "__main__":
    main()
