"""The sweep engine against a hand-written ``jax.jit(jax.vmap(train))``, on a PPO sweep.

    python benchmarks/sweep_engine.py [--members 16] [--rounds 3] [--quick]

The task is PPO on gymnax's CartPole-v1 (`lrjax.tasks.cartpole`, its default `Config`:
4 environments x 128 steps, 195 updates), a population of ``--members`` settings of
(lr, anneal, warmup, seed). Compared, in one process, on the same `train` function:

- by hand: ``jax.jit(jax.vmap(train))(hp)``, what a PureJaxRL user writes;
- ``lrjax.sweep.run_train(train, hp)``: the whole-program form (sharded, gathered, a
  result table);
- ``lrjax.sweep.run(init, step, hp, steps=updates, eval_every=updates // 10)``: the step
  form, ten segments, the carry (a Linen TrainState, env states, a key) crossing between
  programs.

Compile time is JAX's own (the union of its trace, lowering and compile spans in the
first call); run time is the median of ``--rounds`` later calls, the variants in a
rotating order. Then the per-segment cost of the step form's extras, timed inside a sweep
(`extras_per_segment`): a callback that does nothing, the JSON-lines, CSV and TensorBoard
writers, and a checkpoint after every segment (gathering the carries and orbax's save).

Writes ``benchmarks/results/engine_<backend>.json`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import flax
import jax
import jax.numpy as jnp
import numpy as np

from lrjax import sweep
from lrjax.sweep import logs, members
from lrjax.sweep.checkpoint import Checkpoints

from .sweep import CompileClock


def population(members: int) -> dict[str, jax.Array]:
    rng = np.random.default_rng(0)
    return {
        "lr": jnp.asarray(10 ** rng.uniform(-4, -2.5, members), jnp.float32),
        "anneal": jnp.asarray(rng.choice([0.0, 1.0], members), jnp.float32),
        "warmup": jnp.asarray(rng.integers(0, 10, members), jnp.int32),
        "seed": jnp.arange(members, dtype=jnp.int32),
    }


def timed(clock: CompileClock, variants: dict, rounds: int) -> dict:
    """First call (wall, compile) and the median later wall time of each variant."""
    rows = {}
    for name, fn in variants.items():
        _, wall, compile_s, _ = clock(fn)
        rows[name] = {"first_wall_s": wall, "compile_s": compile_s, "runs_s": []}
    names = list(variants)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            _, wall, _, _ = clock(variants[name])
            rows[name]["runs_s"].append(wall)
    for row in rows.values():
        row["run_s"] = statistics.median(row["runs_s"])
    return rows


def main() -> None:
    from lrjax.tasks.cartpole import Config, make_step, make_train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small, short smoke run")
    args = parser.parse_args()
    config = Config(total_timesteps=20 * 4 * 128) if args.quick else Config()
    members = 4 if args.quick else args.members
    rounds = 1 if args.quick else args.rounds
    hp = population(members)
    train = make_train(config)
    init, step = make_step(config)
    updates = config.num_updates
    every = max(1, updates // 10)
    segments = -(-updates // every)
    by_hand = jax.jit(jax.vmap(train))
    clock = CompileClock()

    def plain():
        return sweep.run(init, step, hp, steps=updates, eval_every=every, score="return",
                         mode="max").metrics["return"]  # fmt: skip

    rows = timed(
        clock,
        {
            "by_hand": lambda: by_hand(hp)["return"],
            "run_train": lambda: sweep.run_train(train, hp, score="return", mode="max").metrics[
                "return"
            ],
            "run_steps": plain,
        },
        rounds,
    )
    # the same program: the whole-program form is the hand-written one, bitwise
    np.testing.assert_array_equal(
        np.asarray(by_hand(hp)["return"]), sweep.run_train(train, hp).metrics["return"]
    )

    with tempfile.TemporaryDirectory() as tmp:
        per_segment = extras_per_segment(tmp, init, step, hp, updates, every, segments)

    ratio = {
        "run_train/by_hand run": rows["run_train"]["run_s"] / rows["by_hand"]["run_s"],
        "run_train/by_hand compile": rows["run_train"]["compile_s"] / rows["by_hand"]["compile_s"],
        "run_steps/by_hand run": rows["run_steps"]["run_s"] / rows["by_hand"]["run_s"],
        "run_steps/by_hand compile": rows["run_steps"]["compile_s"] / rows["by_hand"]["compile_s"],
    }
    print(f"PPO CartPole, {members} members x {updates} updates, {jax.devices()[0]}")
    for name, row in rows.items():
        print(f"  {name:10s} compile {row['compile_s']:7.2f} s  run {row['run_s']:7.2f} s")
    for name, value in ratio.items():
        print(f"  {name:28s} {value:.3f}")
    print(f"per-segment cost ({segments} segments of {every} updates, {members} members):")
    for name, value in per_segment.items():
        print(f"  {name:12s} {1e3 * value:8.2f} ms")
    if not args.quick:
        out = Path(__file__).parent / "results" / f"engine_{jax.default_backend()}.json"
        out.write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "device": jax.devices()[0].device_kind,
                    "versions": {"jax": jax.__version__, "flax": flax.__version__},
                    "date": time.strftime("%Y-%m-%d"),
                    "members": members,
                    "updates": updates,
                    "segments": segments,
                    "timings": rows,
                    "ratios": ratio,
                    "per_segment_s": per_segment,
                },
                indent=1,
            )
        )


class Stopwatch:
    """Seconds spent inside the wrapped calls."""

    def __init__(self):
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        return timed


def extras_per_segment(tmp, init, step, hp, updates, every, segments) -> dict[str, float]:
    """Seconds per segment spent in each writer, and in checkpointing (gathering the
    carries to the host and orbax's save), timed inside one sweep each: the engine
    gathers every segment's results to the host whether or not anyone listens, so what a
    callback adds is its own time."""
    costs = {}
    writers = {
        "callback": lambda: lambda segment: None,
        "jsonlines": lambda: logs.JSONLines(f"{tmp}/s.jsonl"),
        "csv": lambda: logs.CSVLog(f"{tmp}/s.csv"),
        "tensorboard": lambda: logs.TensorBoard(f"{tmp}/tb"),
    }
    for name, make in writers.items():
        watch, writer = Stopwatch(), make()
        sweep.run(init, step, hp, steps=updates, eval_every=every, callback=watch.wrap(writer))
        getattr(writer, "close", lambda: None)()
        costs[name] = watch.seconds / segments
    watch = Stopwatch()
    save, gather = Checkpoints.save, members.Members.host_values
    Checkpoints.save, members.Members.host_values = watch.wrap(save), watch.wrap(gather)
    try:
        folder = tempfile.mkdtemp(dir=tmp)
        sweep.run(init, step, hp, steps=updates, eval_every=every, checkpoint=folder)
    finally:
        Checkpoints.save, members.Members.host_values = save, gather
    costs["checkpoint"] = watch.seconds / segments
    return costs


if __name__ == "__main__":
    main()
