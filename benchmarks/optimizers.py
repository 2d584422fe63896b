"""Optimizers against optax, in one process: step time, memory bandwidth, compile time.

    python -m benchmarks.optimizers [--rounds 15] [--iters 10] [--sizes 1x2^24 ...]
                                    [--scale 0] [--out benchmarks/results]

Pairs, with the same or the nearest semantics, each as cheap as its library allows:

- sgd_momentum: ``lrjax.sgd(1e-3, momentum=0.9)`` vs ``optax.sgd(1e-3, momentum=0.9)``.
- adagrad: ``lrjax.adagrad(1e-2)`` vs ``optax.adagrad(1e-2, initial_accumulator_value=0.0,
  eps=1e-10)``. The eps placement differs (torch, hence lrjax: ``g / (sqrt(v) + eps)``;
  optax: ``g / sqrt(v + eps)``); the cost class is the same.
- rmsprop: ``lrjax.rmsprop(1e-2)`` vs ``optax.rmsprop(1e-2, decay=0.99, eps=1e-8,
  eps_in_sqrt=False)``.
- adam: ``lrjax.adam(1e-3)`` vs ``optax.adam(1e-3)``.

Problems (float32 parameters, a list of leaves): ``1x2^24`` (one leaf of 2**24 elements),
``512x2^15`` and ``4096x2^12`` (512 and 4096 leaves, 2**24 elements in all). ``--scale k``
divides every leaf size by 2**k for quick runs; ``--sizes`` picks a subset.

What is timed: one step ``step(params, state, grads) -> (params, state)``, i.e.
``opt.update(grads, state, params)`` then ``optax.apply_updates``, jitted with params and
state donated; the gradients are fixed normal arrays made once. For each (optimizer,
problem): the wall time of ``jax.jit(step, donate_argnums=(0, 1)).lower(...).compile()`` for
each library (the two compile in alternating order from one pair to the next), 3 warm-up
steps, then ``--rounds`` rounds, each timing ``--iters`` consecutive steps (the returned
params and state fed back in, one ``jax.block_until_ready`` at the end) for lrjax and for
optax, which goes first alternating every round, then the reference copy below. Reported:
the median time per step for each library and the median of the per-round ratios
(lrjax / optax) with its min and max. The times include dispatching the whole pytree, which
with 4096 leaves is a sizeable part of a step on CPU; both libraries pay it alike.

Bandwidth: each step must at least read the gradients and parameters, write the parameters
and read and write every state array (one for SGD with momentum, AdaGrad and RMSprop, two
for Adam), so it moves (3 + 2 * states) * 4 bytes per element; that over the median step
time is the achieved bandwidth. The reference is a donated, jitted ``x + 1.0`` over one
array with the same total number of elements (8 bytes per element, read and write), timed
in the same rounds; each library's bandwidth is also given as a fraction of it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

import lrjax

# name -> (number of leaves, log2 of the leaf size)
SHAPES = {"1x2^24": (1, 24), "512x2^15": (512, 15), "4096x2^12": (4096, 12)}

# name -> (lrjax factory, optax factory, state arrays per parameter)
PAIRS = {
    "sgd_momentum": (
        lambda: lrjax.sgd(1e-3, momentum=0.9),
        lambda: optax.sgd(1e-3, momentum=0.9),
        1,
    ),
    "adagrad": (
        lambda: lrjax.adagrad(1e-2),
        lambda: optax.adagrad(1e-2, initial_accumulator_value=0.0, eps=1e-10),
        1,
    ),
    "rmsprop": (
        lambda: lrjax.rmsprop(1e-2),
        lambda: optax.rmsprop(1e-2, decay=0.99, eps=1e-8, eps_in_sqrt=False),
        1,
    ),
    "adam": (
        lambda: lrjax.adam(1e-3),
        lambda: optax.adam(1e-3),
        2,
    ),
}

WARMUP = 3
BYTES = 4  # float32


@functools.cache
def _normal(size: int):
    # One small program called once per leaf: a single jit returning 4096 slices of one
    # array takes minutes to compile on CPU.
    return jax.jit(lambda key, i: jax.random.normal(jax.random.fold_in(key, i), (size,)))


def _leaves(seed: int, leaves: int, size: int) -> list[jax.Array]:
    """``leaves`` fresh float32 normal arrays of ``size`` elements (distinct buffers)."""
    key = jax.random.key(seed)
    return [_normal(size)(key, i) for i in range(leaves)]


def _step(opt: optax.GradientTransformation):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def _compile(opt, params, state, grads):
    t0 = time.perf_counter()
    compiled = jax.jit(_step(opt), donate_argnums=(0, 1)).lower(params, state, grads).compile()
    return compiled, time.perf_counter() - t0


class _Runner:
    """A compiled step and the params/state it owns (donated, so always the latest)."""

    def __init__(self, compiled, params, state, grads):
        self.compiled, self.carry, self.grads = compiled, (params, state), grads

    def __call__(self, iters: int) -> float:
        params, state = self.carry
        t0 = time.perf_counter()
        for _ in range(iters):
            params, state = self.compiled(params, state, self.grads)
        jax.block_until_ready((params, state))
        dt = time.perf_counter() - t0
        self.carry = (params, state)
        return dt / iters


class _Copy:
    def __init__(self, elements: int):
        self.x = jnp.zeros(elements, jnp.float32)
        self.compiled = jax.jit(lambda x: x + 1.0, donate_argnums=0).lower(self.x).compile()

    def __call__(self, iters: int) -> float:
        x = self.x
        t0 = time.perf_counter()
        for _ in range(iters):
            x = self.compiled(x)
        jax.block_until_ready(x)
        dt = time.perf_counter() - t0
        self.x = x
        return dt / iters


def benchmark(
    optimizers: list[str], sizes: list[str], scale: int, rounds: int, iters: int
) -> list[dict]:
    rows = []
    pair_index = 0
    for shape in sizes:
        leaves, log2 = SHAPES[shape]
        size = 2 ** (log2 - scale)
        elements = leaves * size
        grads = _leaves(0, leaves, size)
        copy = _Copy(elements)
        for _ in range(WARMUP):
            copy(1)
        for name in optimizers:
            ours, theirs, states = PAIRS[name]
            runners, compile_s = {}, {}
            order = ("lrjax", "optax") if pair_index % 2 == 0 else ("optax", "lrjax")
            pair_index += 1
            for lib in order:
                opt = ours() if lib == "lrjax" else theirs()
                params = _leaves(1, leaves, size)  # each library its own copy (donated)
                state = opt.init(params)
                compiled, compile_s[lib] = _compile(opt, params, state, grads)
                runners[lib] = _Runner(compiled, params, state, grads)
            for _ in range(WARMUP):
                runners["lrjax"](1), runners["optax"](1)
            t = {"lrjax": [], "optax": [], "copy": []}
            ratios = []
            for r in range(rounds):
                for lib in ("lrjax", "optax") if r % 2 == 0 else ("optax", "lrjax"):
                    t[lib].append(runners[lib](iters))
                t["copy"].append(copy(iters))
                ratios.append(t["lrjax"][-1] / t["optax"][-1])
            del runners
            step_bytes = (3 + 2 * states) * BYTES * elements
            copy_bytes = 2 * BYTES * elements
            med = {lib: statistics.median(v) for lib, v in t.items()}
            gbps = {lib: step_bytes / med[lib] / 1e9 for lib in ("lrjax", "optax")}
            gbps["copy"] = copy_bytes / med["copy"] / 1e9
            rows.append(
                {
                    "optimizer": name,
                    "shape": shape,
                    "leaves": leaves,
                    "leaf_size": size,
                    "elements": elements,
                    "state_arrays": states,
                    "bytes_per_step": step_bytes,
                    "lrjax_ms": 1e3 * med["lrjax"],
                    "optax_ms": 1e3 * med["optax"],
                    "ratio_median": statistics.median(ratios),
                    "ratio_min": min(ratios),
                    "ratio_max": max(ratios),
                    "lrjax_gbps": gbps["lrjax"],
                    "optax_gbps": gbps["optax"],
                    "copy_ms": 1e3 * med["copy"],
                    "copy_gbps": gbps["copy"],
                    "lrjax_copy_fraction": gbps["lrjax"] / gbps["copy"],
                    "optax_copy_fraction": gbps["optax"] / gbps["copy"],
                    "lrjax_compile_s": compile_s["lrjax"],
                    "optax_compile_s": compile_s["optax"],
                }
            )
        del copy, grads
    return rows


def _label(row: dict) -> str:
    return f"{row['leaves']}x2^{row['leaf_size'].bit_length() - 1}"


def main() -> None:
    parser = argparse.ArgumentParser(description="lrjax optimizers against optax")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iters", type=int, default=10, help="steps timed per round")
    parser.add_argument("--sizes", nargs="+", choices=list(SHAPES), default=list(SHAPES))
    parser.add_argument("--optimizers", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument(
        "--scale", type=int, default=0, help="divide every leaf size by 2**scale (quick runs)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if not 0 <= args.scale <= min(SHAPES[s][1] for s in args.sizes):
        parser.error("--scale must be between 0 and the smallest leaf's log2 size")

    device = jax.devices()[0].device_kind
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, backend {jax.default_backend()}, "
        f"device {device}, {os.cpu_count()} CPUs"
    )
    rows = benchmark(args.optimizers, args.sizes, args.scale, args.rounds, args.iters)
    print(
        f"One donated jitted step, median of {args.rounds} alternating rounds of "
        f"{args.iters} steps; GB/s (fraction of copy GB/s)"
    )
    print(
        f"{'optimizer':13s} {'shape':10s} {'lrjax ms':>9s} {'optax ms':>9s} {'ratio':>6s} "
        f"{'[min, max]':>13s} {'lrjax GB/s':>13s} {'optax GB/s':>13s} {'copy GB/s':>9s} "
        f"{'compile lrjax s':>15s} {'compile optax s':>15s}"
    )
    for r in rows:
        print(
            f"{r['optimizer']:13s} {_label(r):10s} {r['lrjax_ms']:9.3f} {r['optax_ms']:9.3f} "
            f"{r['ratio_median']:6.2f} [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}] "
            f"{r['lrjax_gbps']:6.1f} ({r['lrjax_copy_fraction']:.2f}) "
            f"{r['optax_gbps']:6.1f} ({r['optax_copy_fraction']:.2f}) {r['copy_gbps']:9.1f} "
            f"{r['lrjax_compile_s']:15.2f} {r['optax_compile_s']:15.2f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": device,
        "versions": {"jax": jax.__version__, "optax": optax.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "settings": {
            "rounds": args.rounds,
            "iters": args.iters,
            "warmup_steps": WARMUP,
            "scale": args.scale,
            "sizes": args.sizes,
            "optimizers": args.optimizers,
        },
        "results": rows,
    }
    path = args.out / f"optimizers_{jax.default_backend()}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
