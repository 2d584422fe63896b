"""Optimizers against optax and PyTorch, in one process: step time, memory bandwidth,
compile time.

    python -m benchmarks.optimizers [--rounds 10] [--iters 5] [--mode step loop]
                                    [--sizes 1x2^24 512x2^15 transformer] [--long]
                                    [--optimizers adam ...] [--loop-steps 10] [--scale 0]
                                    [--out benchmarks/results]

Pairs, with the same hyperparameters and the same or the nearest semantics, each as cheap as
its library allows:

- sgd: ``lrjax.sgd(1e-3)`` vs ``optax.sgd(1e-3)`` (no momentum, no state array).
- sgd_momentum: ``lrjax.sgd(1e-3, momentum=0.9)`` vs ``optax.sgd(1e-3, momentum=0.9)``.
- nesterov: ``lrjax.sgd(1e-3, momentum=0.9, nesterov=True)`` vs ``optax.sgd(1e-3,
  momentum=0.9, nesterov=True)``; both return ``g + μ b``.
- adagrad: ``lrjax.adagrad(1e-2)`` vs ``optax.adagrad(1e-2, initial_accumulator_value=0.0,
  eps=1e-10)``. The eps placement differs (torch, hence lrjax: ``g / (sqrt(v) + eps)``;
  optax: ``g / sqrt(v + eps)``); the cost class is the same.
- rmsprop: ``lrjax.rmsprop(1e-2)`` vs ``optax.rmsprop(1e-2, decay=0.99, eps=1e-8,
  eps_in_sqrt=False)``.
- adadelta: ``lrjax.adadelta(1.0)`` vs ``optax.adadelta(1.0)`` (rho 0.9, eps 1e-6 inside
  both roots in both).
- adam: ``lrjax.adam(1e-3)`` vs ``optax.adam(1e-3)``.
- adamw: ``lrjax.adamw(1e-3, weight_decay=1e-2)`` vs ``optax.adamw(1e-3, weight_decay=1e-2)``
  (decoupled decay multiplied by the rate in both).
- nadam: ``lrjax.nadam(1e-3, momentum_decay=None)`` vs ``optax.nadam(1e-3)``: the constant
  momentum (Dozat's simplified NAdam), which is what optax implements. lrjax's default,
  ``momentum_decay=4e-3``, is torch's NAdam with the momentum schedule μ_t; it differs from
  optax's in its values but only in scalars computed once per step, not in the work per
  element.
- radam: ``lrjax.radam(1e-3)`` vs ``optax.radam(1e-3)`` (threshold 5). lrjax follows torch:
  eps is added to the uncorrected ``sqrt(v)`` and the rectified branch needs ρ_t > 5; optax
  adds eps to the bias-corrected root and takes the branch at ρ_t >= 5. Same cost class.
- adamax: ``lrjax.adamax(1e-3)`` vs ``optax.adamax(1e-3)`` (the same formula).

Problems (float32 parameters): ``1x2^24`` (a list of one leaf of 2**24 elements),
``512x2^15`` (a list of 512 leaves, 2**24 elements in all) and ``transformer``: the
parameters of a small decoder-only transformer as a nested dict, ``{"embed": {"tokens":
(8192, 256), "positions": (256, 256)}, "layers": {"layer_00" .. "layer_07": {"attention":
{"q"|"k"|"v"|"o": {"kernel": (256, 256), "bias": (256,)}}, "norm1"|"norm2": {"scale",
"bias": (256,)}, "mlp": {"up": {"kernel": (256, 1024), "bias": (1024,)}, "down": {"kernel":
(1024, 256), "bias": (256,)}}}}, "final_norm": {"scale", "bias"}, "head": {"kernel": (256,
8192)}}``, 133 leaves and 10,578,432 elements, from 256 to 2**21 elements a leaf. With
``--long`` (or naming it in ``--sizes``) also ``4096x2^12`` (4096 leaves, 2**24 elements;
minutes to compile). ``--scale k`` divides every leaf of the list problems by 2**k and the
transformer's widths (vocabulary, positions, model and MLP width) by 2**ceil(k/2), so its
matrices shrink by about 2**k, for quick runs.

What is timed, for each (optimizer, problem, mode): one step ``step(params, state, grads) ->
(params, state)`` is ``opt.update(grads, state, params)`` then ``optax.apply_updates``; the
gradients are fixed normal arrays made once per problem, passed as an argument.

- ``step``: the step alone, ``jax.jit(step, donate_argnums=(0, 1))``: one dispatch per step.
- ``loop``: ``--loop-steps`` K = 10 steps in one call, a ``jax.lax.scan`` over the step with
  (params, state) as the carry and the same grads every step, jitted with params and state
  donated, as in a training loop compiled whole: no dispatch between steps. The grads are
  loop-invariant, so XLA may hoist grad-only expressions out of the loop; that is allowed to
  both libraries alike.

Each library's program is compiled with ``jax.jit(...).lower(...).compile()`` and its wall
time reported (the two compile in alternating order from one (optimizer, mode) to the next).
Then 3 warm-up steps (one call in loop mode), then ``--rounds`` rounds, each timing about
``--iters`` consecutive steps (``--iters`` calls in step mode, round(iters / K) calls but at
least one in loop mode; the returned params and state fed back in, one
``jax.block_until_ready`` at the end) for lrjax and for optax, which goes first alternating
every round, then the reference copy below. Reported: the median time per step (call time /
K in loop mode) for each library and the median of the per-round ratios (lrjax / optax) with
its min and max. Step-mode times include dispatching the whole pytree, which with hundreds of
leaves is a sizeable part of a step on CPU; both libraries pay it alike, and loop mode shows
the time without it.

PyTorch (`benchmarks/torch_peer.py`, when torch is installed): on the ``step`` rows,
``optimizer.step()`` of the torch optimizer with lrjax's hyperparameters, on its own float32
copy of the same parameters with the same gradients, in each form torch runs on the device
(``foreach``, ``fused``), timed in the same alternating rounds; reported per form, with the
median of per-round ratios lrjax / fastest form. torch has no counterpart of ``loop``.

Bandwidth: each step must at least read the gradients and parameters, write the parameters
and read and write every state array (none for plain SGD; one for SGD with momentum, AdaGrad
and RMSprop; two for AdaDelta and the Adam family), so it moves (3 + 2 * states) * 4 bytes per
element of the problem; that over the median step time is the achieved bandwidth. The
reference is ``x + 1.0`` over one float32 array with the same total number of elements (8
bytes per element, read and write), donated and jitted, in the same mode (one call per copy,
or K copies in one scan), timed in the same rounds; each library's bandwidth is also given as
a fraction of it. The elapsed wall time of the whole run is printed at the end.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
from benchmarks import torch_peer

# name -> (number of leaves, log2 of the leaf size), lists of equal leaves
LISTS = {"1x2^24": (1, 24), "512x2^15": (512, 15), "4096x2^12": (4096, 12)}
TRANSFORMER = "transformer"
PROBLEMS = [*LISTS, TRANSFORMER]
LONG = "4096x2^12"
DEFAULT_PROBLEMS = [p for p in PROBLEMS if p != LONG]
# the transformer's widths; --scale k divides each by 2**ceil(k/2)
VOCAB, POSITIONS, D_MODEL, D_MLP, LAYERS = 8192, 256, 256, 1024, 8
MODES = ["step", "loop"]

# name -> (lrjax factory, optax factory, state arrays per parameter)
PAIRS = {
    "sgd": (lambda: lrjax.sgd(1e-3), lambda: optax.sgd(1e-3), 0),
    "sgd_momentum": (
        lambda: lrjax.sgd(1e-3, momentum=0.9),
        lambda: optax.sgd(1e-3, momentum=0.9),
        1,
    ),
    "nesterov": (
        lambda: lrjax.sgd(1e-3, momentum=0.9, nesterov=True),
        lambda: optax.sgd(1e-3, momentum=0.9, nesterov=True),
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
    "adadelta": (lambda: lrjax.adadelta(1.0), lambda: optax.adadelta(1.0), 2),
    "adam": (lambda: lrjax.adam(1e-3), lambda: optax.adam(1e-3), 2),
    "adamw": (
        lambda: lrjax.adamw(1e-3, weight_decay=1e-2),
        lambda: optax.adamw(1e-3, weight_decay=1e-2),
        2,
    ),
    "nadam": (
        lambda: lrjax.nadam(1e-3, momentum_decay=None),
        lambda: optax.nadam(1e-3),
        2,
    ),
    "radam": (lambda: lrjax.radam(1e-3), lambda: optax.radam(1e-3), 2),
    "adamax": (lambda: lrjax.adamax(1e-3), lambda: optax.adamax(1e-3), 2),
}

WARMUP = 3  # steps
BYTES = 4  # float32


def _max_scale(problem: str) -> int:
    if problem == TRANSFORMER:
        return 2 * int(math.log2(min(VOCAB, POSITIONS, D_MODEL, D_MLP)))
    return LISTS[problem][1]


def _transformer_shapes(scale: int) -> dict:
    div = 2 ** ((scale + 1) // 2)
    v, p, d, f = VOCAB // div, POSITIONS // div, D_MODEL // div, D_MLP // div

    def dense(n_in, n_out):
        return {"kernel": (n_in, n_out), "bias": (n_out,)}

    def norm():
        return {"scale": (d,), "bias": (d,)}

    layer = {
        "attention": {name: dense(d, d) for name in ("q", "k", "v", "o")},
        "norm1": norm(),
        "norm2": norm(),
        "mlp": {"up": dense(d, f), "down": dense(f, d)},
    }
    return {
        "embed": {"tokens": (v, d), "positions": (p, d)},
        "layers": {f"layer_{i:02d}": layer for i in range(LAYERS)},
        "final_norm": norm(),
        "head": {"kernel": (d, v)},
    }


def _shapes(problem: str, scale: int):
    """The problem's pytree of shapes (tuples as leaves)."""
    if problem == TRANSFORMER:
        return _transformer_shapes(scale)
    leaves, log2 = LISTS[problem]
    return [(2 ** (log2 - scale),)] * leaves


def _is_shape(x) -> bool:
    return isinstance(x, tuple)


def _label(problem: str, scale: int) -> str:
    if problem == TRANSFORMER:
        return TRANSFORMER if scale == 0 else f"{TRANSFORMER}/{2 ** ((scale + 1) // 2)}"
    leaves, log2 = LISTS[problem]
    return f"{leaves}x2^{log2 - scale}"


@functools.cache
def _normal(shape: tuple):
    # One small program per shape, called once per leaf: a single jit returning 4096 slices
    # of one array takes minutes to compile on CPU.
    return jax.jit(lambda key, i: jax.random.normal(jax.random.fold_in(key, i), shape))


def _tree(seed: int, shapes):
    """Fresh float32 normal arrays (distinct buffers), one per shape in ``shapes``."""
    key = jax.random.key(seed)
    flat, treedef = jax.tree.flatten(shapes, is_leaf=_is_shape)
    return jax.tree.unflatten(treedef, [_normal(s)(key, i) for i, s in enumerate(flat)])


def _step(opt: optax.GradientTransformation):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def _loop(opt: optax.GradientTransformation, steps: int):
    step = _step(opt)

    def loop(params, state, grads):
        def body(carry, _):
            return step(*carry, grads), None

        carry, _ = jax.lax.scan(body, (params, state), None, length=steps)
        return carry

    return loop


def _compile(fn, *args):
    t0 = time.perf_counter()
    compiled = jax.jit(fn, donate_argnums=(0, 1)).lower(*args).compile()
    return compiled, time.perf_counter() - t0


class _Runner:
    """A compiled step or loop and the params/state it owns (donated, so always the latest)."""

    def __init__(self, compiled, params, state, grads, steps_per_call: int):
        self.compiled, self.carry, self.grads = compiled, (params, state), grads
        self.steps_per_call = steps_per_call

    def __call__(self, calls: int) -> float:
        """Seconds per step over ``calls`` consecutive calls."""
        params, state = self.carry
        t0 = time.perf_counter()
        for _ in range(calls):
            params, state = self.compiled(params, state, self.grads)
        jax.block_until_ready((params, state))
        dt = time.perf_counter() - t0
        self.carry = (params, state)
        return dt / (calls * self.steps_per_call)


class _Copy:
    """``x + 1.0`` over ``elements`` floats, donated; ``steps`` copies per call in a scan."""

    def __init__(self, elements: int, steps: int):
        def copy(x):
            return x + 1.0

        def loop(x):
            return jax.lax.scan(lambda c, _: (copy(c), None), x, None, length=steps)[0]

        self.x, self.steps = jnp.zeros(elements, jnp.float32), steps
        fn = copy if steps == 1 else loop
        self.compiled = jax.jit(fn, donate_argnums=0).lower(self.x).compile()

    def __call__(self, calls: int) -> float:
        x = self.x
        t0 = time.perf_counter()
        for _ in range(calls):
            x = self.compiled(x)
        jax.block_until_ready(x)
        dt = time.perf_counter() - t0
        self.x = x
        return dt / (calls * self.steps)


def _torch_runners(name: str, shapes, grads) -> dict:
    """torch's forms of `name` on their own copy of the params, with the same grads."""
    params = [np.asarray(x) for x in jax.tree.leaves(_tree(1, shapes))]
    return torch_peer.runners(name, params, [np.asarray(g) for g in jax.tree.leaves(grads)])


def _torch_columns(t: dict, med: dict, step_bytes: int) -> dict:
    """Per torch form: ms per step and GB/s of the update's own traffic; and lrjax over the
    fastest form, as the median of per-round ratios with its min and max."""
    forms = [lib.removeprefix("torch_") for lib in t if lib.startswith("torch_")]
    if not forms:
        return {}
    best = min(forms, key=lambda f: med[f"torch_{f}"])
    ratios = [a / b for a, b in zip(t["lrjax"], t[f"torch_{best}"], strict=True)]
    columns = {f"torch_{f}_ms": 1e3 * med[f"torch_{f}"] for f in forms}
    columns |= {f"torch_{f}_gbps": step_bytes / med[f"torch_{f}"] / 1e9 for f in forms}
    return columns | {
        "torch_best": best,
        "torch_ratio_median": statistics.median(ratios),
        "torch_ratio_min": min(ratios),
        "torch_ratio_max": max(ratios),
    }


def benchmark(
    optimizers: list[str],
    problems: list[str],
    modes: list[str],
    scale: int,
    rounds: int,
    iters: int,
    loop_steps: int,
) -> list[dict]:
    rows = []
    pair_index = 0
    total = len(problems) * len(optimizers) * len(modes)
    for problem in problems:
        shapes = _shapes(problem, scale)
        grads = _tree(0, shapes)
        flat = jax.tree.leaves(grads)
        elements = sum(x.size for x in flat)
        sizes = {x.size for x in flat}
        steps = {"step": 1, "loop": loop_steps}
        calls = {"step": iters, "loop": max(1, round(iters / loop_steps))}
        warmup = {mode: max(1, math.ceil(WARMUP / steps[mode])) for mode in modes}
        copies = {mode: _Copy(elements, steps[mode]) for mode in modes}
        for mode in modes:
            copies[mode](warmup[mode])
        for name in optimizers:
            ours, theirs, states = PAIRS[name]
            for mode in modes:
                t_start = time.perf_counter()
                runners, compile_s = {}, {}
                order = ("lrjax", "optax") if pair_index % 2 == 0 else ("optax", "lrjax")
                pair_index += 1
                for lib in order:
                    opt = ours() if lib == "lrjax" else theirs()
                    params = _tree(1, shapes)  # each library its own copy (donated)
                    state = opt.init(params)
                    fn = _step(opt) if mode == "step" else _loop(opt, loop_steps)
                    compiled, compile_s[lib] = _compile(fn, params, state, grads)
                    runners[lib] = _Runner(compiled, params, state, grads, steps[mode])
                # torch has no loop form: its columns are on the step rows
                torch_forms = {} if mode == "loop" else _torch_runners(name, shapes, grads)
                runners.update({f"torch_{form}": r for form, r in torch_forms.items()})
                for runner in runners.values():
                    runner(warmup[mode])
                t = {lib: [] for lib in runners} | {"copy": []}
                ratios = []
                for r in range(rounds):
                    libs = list(runners) if r % 2 == 0 else list(reversed(runners))
                    for lib in libs:
                        t[lib].append(runners[lib](calls[mode]))
                    t["copy"].append(copies[mode](calls[mode]))
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
                        "problem": problem,
                        "label": _label(problem, scale),
                        "mode": mode,
                        "steps_per_call": steps[mode],
                        "calls_per_round": calls[mode],
                        "leaves": len(flat),
                        "leaf_size": sizes.pop() if len(sizes) == 1 else None,
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
                        **_torch_columns(t, med, step_bytes),
                    }
                )
                print(
                    f"[{len(rows)}/{total}] {name} {_label(problem, scale)} {mode}: "
                    f"{time.perf_counter() - t_start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        del copies, grads
    return rows


def _table(rows: list[dict]) -> list[str]:
    lines = [
        f"{'optimizer':12s} {'problem':14s} {'mode':4s} {'lrjax ms':>9s} {'optax ms':>9s} "
        f"{'ratio [min, max]':>18s} {'lrjax GB/s':>12s} {'optax GB/s':>12s} {'copy GB/s':>9s} "
        f"{'compile s l/o':>13s} {'torch ms (best)':>17s} {'lrjax/torch':>11s}"
    ]
    for r in rows:
        compile_s = f"{r['lrjax_compile_s']:.2f}/{r['optax_compile_s']:.2f}"
        lines.append(
            f"{r['optimizer']:12s} {r['label']:14s} {r['mode']:4s} {r['lrjax_ms']:9.3f} "
            f"{r['optax_ms']:9.3f} {r['ratio_median']:5.2f} [{r['ratio_min']:.2f}, "
            f"{r['ratio_max']:.2f}] {r['lrjax_gbps']:5.1f} ({r['lrjax_copy_fraction']:.2f}) "
            f"{r['optax_gbps']:5.1f} ({r['optax_copy_fraction']:.2f}) {r['copy_gbps']:9.1f} "
            f"{compile_s:>13s} {_torch_text(r)}"
        )
    return lines


def _torch_text(r: dict) -> str:
    if "torch_best" not in r:
        return f"{'—':>17s} {'—':>11s}"
    best = r["torch_best"]
    return f"{r[f'torch_{best}_ms']:9.3f} ({best:7s}) {r['torch_ratio_median']:11.2f}"


def main() -> None:
    t0 = time.perf_counter()
    parser = argparse.ArgumentParser(description="lrjax optimizers against optax")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iters", type=int, default=5, help="steps timed per round")
    parser.add_argument(
        "--sizes",
        nargs="+",
        choices=PROBLEMS,
        default=None,
        help=f"problems (default: all but {LONG})",
    )
    parser.add_argument("--long", action="store_true", help=f"also run {LONG} (slow compiles)")
    parser.add_argument("--optimizers", nargs="+", choices=list(PAIRS), default=list(PAIRS))
    parser.add_argument("--mode", nargs="+", choices=MODES, default=MODES)
    parser.add_argument("--loop-steps", type=int, default=10, help="steps per call in loop mode")
    parser.add_argument(
        "--scale", type=int, default=0, help="divide every leaf size by about 2**scale (quick runs)"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    problems = list(args.sizes or DEFAULT_PROBLEMS)
    if args.long and LONG not in problems:
        problems.append(LONG)
    if not 0 <= args.scale <= min(_max_scale(p) for p in problems):
        parser.error(
            "--scale must be between 0 and "
            f"{min(_max_scale(p) for p in problems)} for these problems"
        )
    if args.rounds < 1 or args.iters < 1 or args.loop_steps < 1:
        parser.error("--rounds, --iters and --loop-steps must be positive")

    device = jax.devices()[0].device_kind
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, backend {jax.default_backend()}, "
        f"device {device}, {os.cpu_count()} CPUs"
    )
    rows = benchmark(
        args.optimizers, problems, args.mode, args.scale, args.rounds, args.iters, args.loop_steps
    )
    elapsed = time.perf_counter() - t0
    print(
        f"Donated jitted steps (step: one per call; loop: {args.loop_steps} per call in a scan), "
        f"median of {args.rounds} alternating rounds of about {args.iters} steps; ms per step; "
        "GB/s (fraction of copy GB/s); compile s lrjax/optax"
    )
    print("\n".join(_table(rows)))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": device,
        "versions": {
            "jax": jax.__version__,
            "optax": optax.__version__,
            "lrjax": lrjax.__version__,
            "torch": torch_peer.version() or "not installed",
            "python": platform.python_version(),
        },
        "date": time.strftime("%Y-%m-%d"),
        "settings": {
            "modes": args.mode,
            "problems": problems,
            "optimizers": args.optimizers,
            "rounds": args.rounds,
            "iters": args.iters,
            "loop_steps": args.loop_steps,
            "warmup_steps": WARMUP,
            "scale": args.scale,
        },
        "elapsed_s": elapsed,
        "results": rows,
    }
    path = args.out / f"optimizers_{jax.default_backend()}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    print(f"elapsed {elapsed:.1f} s")


if __name__ == "__main__":
    main()
