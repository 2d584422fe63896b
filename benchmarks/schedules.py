"""Schedules against optax, in one process: evaluation speed and recompilations.

    python -m benchmarks.schedules [--rounds 15] [--out benchmarks/results]

1. Evaluation: a jitted evaluation of each schedule on 2**20 steps, lrjax and optax timed
   alternately for ``--rounds`` rounds after compiling and warming up; the median of the
   per-round ratios (lrjax / optax) with its min and max. lrjax twice: "traced", the
   schedule passed as a jit argument (how a sweep uses it: its hyperparameters are traced,
   so XLA cannot specialise a power to a multiplication), and "closed", a closure over
   constants like optax's.
2. Sweeping a hyperparameter over 100 values in a jitted training step (an SGD update of
   a 1024-parameter vector): lrjax passes the schedule as an argument and compiles once;
   optax's schedule is a closure over Python numbers, so each value is a new program. We
   count compilations and time the 100 calls, compile included.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

import lrjax.schedules as S

STEPS = jnp.arange(2**20, dtype=jnp.int32)

PAIRS = {
    "cosine_decay": (
        lambda: S.cosine_decay(0.1, 500_000, alpha=0.01),
        lambda: optax.cosine_decay_schedule(0.1, 500_000, alpha=0.01),
    ),
    "warmup_cosine": (
        lambda: S.warmup(S.cosine_decay(0.1, 490_000, 0.001), 10_000),
        lambda: optax.warmup_cosine_decay_schedule(0.0, 0.1, 10_000, 500_000, 0.001),
    ),
    "exponential_decay": (
        lambda: S.exponential_decay(0.1, 0.5, 100_000, begin=1000, end=1e-4),
        lambda: optax.exponential_decay(0.1, 100_000, 0.5, 1000, end_value=1e-4),
    ),
    "polynomial_decay": (
        lambda: S.polynomial_decay(0.1, 0.0, 800_000, 2.0),
        lambda: optax.polynomial_schedule(0.1, 0.0, 2.0, 800_000),
    ),
    "piecewise_constant": (
        lambda: S.piecewise_constant([200_000, 500_000, 800_000], [0.1, 0.01, 0.001, 1e-4]),
        lambda: optax.piecewise_constant_schedule(0.1, {200_000: 0.1, 500_000: 0.1, 800_000: 0.1}),
    ),
    "join(linear, cosine)": (
        lambda: S.join([S.linear(0.0, 0.1, 10_000), S.cosine_decay(0.1, 990_000)], [10_000]),
        lambda: optax.join_schedules(
            [optax.linear_schedule(0.0, 0.1, 10_000), optax.cosine_decay_schedule(0.1, 990_000)],
            [10_000],
        ),
    ),
    "sgdr (4 equal cycles)": (
        lambda: S.warm_restarts(0.1, 250_000, 1, 0.001),
        lambda: optax.sgdr_schedule(
            [
                dict(
                    init_value=0.1,
                    peak_value=0.1,
                    decay_steps=250_000,
                    warmup_steps=0,
                    end_value=0.001,
                )
            ]
            * 4  # fmt: skip
        ),
    ),
}


def _time(fn, *args) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def evaluation(rounds: int) -> list[dict]:
    rows = []
    for name, (ours, theirs) in PAIRS.items():
        s = ours()
        mine = jax.jit(lambda s, k: s(k)).lower(s, STEPS).compile()
        closed = jax.jit(ours()).lower(STEPS).compile()
        other = jax.jit(theirs()).lower(STEPS).compile()
        for _ in range(3):
            _time(mine, s, STEPS), _time(closed, STEPS), _time(other, STEPS)
        ratios, closed_ratios, t_ours, t_closed, t_theirs = [], [], [], [], []
        for _ in range(rounds):
            a, c, b = _time(mine, s, STEPS), _time(closed, STEPS), _time(other, STEPS)
            t_ours.append(a), t_closed.append(c), t_theirs.append(b)
            ratios.append(a / b), closed_ratios.append(c / b)
        rows.append(
            {
                "schedule": name,
                "lrjax_ms": 1e3 * statistics.median(t_ours),
                "lrjax_closed_ms": 1e3 * statistics.median(t_closed),
                "optax_ms": 1e3 * statistics.median(t_theirs),
                "ratio_median": statistics.median(ratios),
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "closed_ratio_median": statistics.median(closed_ratios),
                "closed_ratio_min": min(closed_ratios),
                "closed_ratio_max": max(closed_ratios),
            }
        )
    return rows


def sweep_compiles(n_values: int = 100) -> dict:
    params = jnp.ones(1024)
    grads = jnp.full(1024, 0.5)
    peaks = [1e-3 * (1 + i) for i in range(n_values)]
    horizons = [1000 + 10 * i for i in range(n_values)]

    compiles = {"lrjax": 0, "optax": 0}

    @jax.jit
    def ours(params, step, schedule):
        compiles["lrjax"] += 1  # runs only while tracing
        return params - schedule(step) * grads

    t0 = time.perf_counter()
    for peak, horizon in zip(peaks, horizons, strict=True):
        jax.block_until_ready(ours(params, 10, S.cosine_decay(peak, horizon)))
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    for peak, horizon in zip(peaks, horizons, strict=True):
        schedule = optax.cosine_decay_schedule(peak, horizon)

        @jax.jit
        def theirs(params, step, schedule=schedule):
            compiles["optax"] += 1
            return params - schedule(step) * grads

        jax.block_until_ready(theirs(params, 10))
    t_theirs = time.perf_counter() - t0
    return {
        "values": n_values,
        "lrjax_compiles": compiles["lrjax"],
        "optax_compiles": compiles["optax"],
        "lrjax_seconds": t_ours,
        "optax_seconds": t_theirs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="lrjax schedules against optax")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    rows = evaluation(args.rounds)
    print(f"Schedule evaluation on {STEPS.size} steps ({jax.devices()[0].device_kind}), "
          f"median of {args.rounds} alternating rounds")  # fmt: skip
    print("traced: the schedule is a jit argument (sweepable, compiles once); closed: a "
          "closure over constants, as optax's")  # fmt: skip
    print(
        f"{'schedule':24s} {'traced ms':>9s} {'closed ms':>9s} {'optax ms':>9s} "
        f"{'traced/optax':>21s} {'closed/optax':>21s}"
    )
    for r in rows:
        print(
            f"{r['schedule']:24s} {r['lrjax_ms']:9.2f} {r['lrjax_closed_ms']:9.2f} "
            f"{r['optax_ms']:9.2f} {r['ratio_median']:6.2f} [{r['ratio_min']:5.2f}, "
            f"{r['ratio_max']:5.2f}] {r['closed_ratio_median']:6.2f} "
            f"[{r['closed_ratio_min']:5.2f}, {r['closed_ratio_max']:5.2f}]"
        )
    sweep = sweep_compiles()
    print(
        f"\n{sweep['values']} cosine schedules (peak, horizon) through a jitted SGD step: "
        f"lrjax {sweep['lrjax_compiles']} compilation(s), {sweep['lrjax_seconds']:.2f} s; "
        f"optax {sweep['optax_compiles']} compilations, {sweep['optax_seconds']:.2f} s"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": platform.platform(),
        "device": jax.devices()[0].device_kind,
        "versions": {"jax": jax.__version__, "optax": optax.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "evaluation": rows,
        "sweep": sweep,
    }
    path = args.out / f"schedules_{jax.default_backend()}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
