"""A vmapped sweep against a sequential loop of single runs, on the digits MLP task.

    python benchmarks/sweep.py [--populations 8 64 256] [--steps 300] [--rounds 4] [--quick]

The task is `lrjax.sweep.digits` (a 64-64-10 tanh MLP on scikit-learn's digits, batches
of 64, the same initial weights and batches for every member). A member's
hyperparameters: ``optimizer`` in (momentum, adam), ``family`` in (constant, cosine,
warmup_cosine, one_cycle, linear) and ``peak`` log-uniform on [1e-4, 1], drawn with
`lrjax.sweep.space.random` (seed 0).

Compared, for each population size:

- vmapped: ``lrjax.sweep.run(task.init, task.step, hp, task.batches)`` on the whole
  population (one jitted, vmapped scan over all the steps). `run` caches its compiled
  programs per function, so only its first call compiles; compile time is measured
  inside each call (the union of JAX's trace, lowering and backend-compile time spans,
  from `jax.monitoring`) and its run time is the call's wall time minus that.
  Also timed: the same vmapped programs called directly (`lrjax.sweep.programs`' ``start``
  and ``advance``, as `run` uses them): compile = JAX's spans in its first call, run =
  its later calls, as a check on the subtraction.
- sequential: one member's program, ``jax.jit`` of ``lax.scan(step)`` over the steps
  (per-step losses and learning rates, as `run` records them), with the hyperparameters
  passed as arguments (NumPy scalars) so it compiles once; a Python loop calls it for
  every member (all calls dispatched, one wait at the end). Compile time: its first call
  minus its second. This is the best one can do without vmap.
- naive, a fresh jit per member: the hyperparameters closed over as Python numbers, so
  each member is a new program, as when an optax optimizer is rebuilt with Python floats
  for every setting. Timed in full (compile + run of every member) for populations up to
  ``--naive-max`` (64); above it, the median of the first 64 members is multiplied by the
  population size (labelled an estimate).

Before timing, the vmapped losses are checked against the sequential ones (`check_equal`):
the first steps within rtol 1e-5 for every member, the final loss within rtol 1e-4 (atol
1e-6) for every member except those whose training amplifies rounding (at large rates a
1-ulp change of ``peak`` already moves the loss curve by more than that; there the
batched and unbatched matrix products' rounding differences grow to O(1), in float64 too).
Timings: ``--rounds`` rounds after the first calls, the variants called in a rotating
order within each round; medians are reported. Speedup =
sequential time / vmapped time, without compile (run times) and with it (compile once +
run, i.e. what a fresh process pays).

Progress overhead: ``run(..., eval_every=steps)`` (one segment) against ``run(...,
eval_every=steps // 10, progress=True)`` (ten segments, a progress line after each, stderr
redirected to a buffer), alternating for ``--progress-rounds`` rounds; the ratio of medians, total
and without compile.

Writes ``benchmarks/results/sweep_<backend>.json`` (not with ``--quick``, unless ``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax.sweep import digits, programs, run, space
from lrjax.transforms.applied import applied_lr

SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle", "linear")
OPTIMIZERS = ("momentum", "adam")
SPACE = {
    "family": space.choice(list(range(len(SCHEDULES)))),
    "optimizer": space.choice(list(range(len(OPTIMIZERS)))),
    "peak": space.log_uniform(1e-4, 1.0),
}
NAIVE_MAX = 64  # members timed with a fresh jit each; beyond, an estimate
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


class CompileClock:
    """Wall time of a call and the part of it JAX spent tracing, lowering and compiling
    (the union of those events' time spans, so nested traces count once)."""

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        self.compiles = 0
        jax.monitoring.register_event_time_span_listener(self._on_span)

    def _on_span(self, event, start, end, **kwargs):
        if event in COMPILE_EVENTS:
            self.spans.append((start, end))
            self.compiles += event == COMPILE_EVENTS[-1]

    def __call__(self, fn):
        """``fn()`` -> (its result, wall seconds, compile seconds, backend compiles)."""
        self.spans, self.compiles = [], 0
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        wall = time.perf_counter() - t0
        covered, end = 0.0, -np.inf
        for a, b in sorted(self.spans):
            covered += max(0.0, b - max(a, end))
            end = max(end, b)
        return out, wall, covered, self.compiles


def member_program(task):
    """One member's whole run, ``(hp, batches) -> (losses, lrs)``, as `run` computes it."""

    def member(hp, batches):
        def body(carry, batch):
            carry, loss = task.step(carry, batch, hp)
            return carry, (loss, jnp.asarray(applied_lr(carry), jnp.float32).reshape(()))

        _, (losses, lrs) = jax.lax.scan(body, task.init(hp), batches)
        return losses, lrs

    return member


def sequential(program, members, batches):
    """Call the compiled member program for each member; final losses as a NumPy array."""
    outs = [program(hp, batches) for hp in members]
    return np.stack([np.asarray(losses) for losses, _ in outs])


def check_equal(vm_losses, seq_losses, members, program, batches, rtol=1e-4, atol=1e-6):
    """The vmapped and sequential losses agree.

    - The first 5 steps' losses of every member within rtol 1e-5: the same computation,
      up to rounding.
    - Every member's final loss within `rtol` (and `atol` 1e-6: a cross-entropy near 0 is
      the difference of a log-sum-exp and a logit of order 10, so float32 resolves it only
      to about 1e-6), except members whose training amplifies rounding: where moving
      ``peak`` by one float32 ulp, up or down, moves the sequential loss of some step by
      more than that tolerance. These are large rates, where the rounding differences between
      the batched and the unbatched matrix products grow exponentially over the steps
      (in float64 as well, from later on).
    """
    early = 5
    np.testing.assert_allclose(vm_losses[:, :early], seq_losses[:, :early], rtol=1e-5)
    vm, seq = vm_losses[:, -1], seq_losses[:, -1]
    strict = np.isclose(vm, seq, rtol=rtol, atol=0, equal_nan=True)
    close = np.isclose(vm, seq, rtol=rtol, atol=atol, equal_nan=True)
    sensitive = np.zeros_like(close)
    for i in np.flatnonzero(~close):
        for direction in (np.inf, -np.inf):
            peak = np.nextafter(members[i]["peak"], np.float32(direction))
            moved = np.asarray(program(dict(members[i], peak=peak), batches)[0])
            sensitive[i] |= not np.allclose(moved, seq_losses[i], rtol=rtol, atol=atol)
    bad = np.flatnonzero(~close & ~sensitive)
    assert not len(bad), (
        f"members {bad.tolist()}: vmapped final loss {vm[bad]} != sequential {seq[bad]}"
    )
    rel = np.abs(vm - seq) / np.maximum(np.abs(seq), 1e-30)
    early_rel = np.abs(vm_losses[:, :early] - seq_losses[:, :early]) / seq_losses[:, :early]
    return {
        "rtol": rtol,
        "atol": atol,
        "members": len(vm),
        "early_steps_checked": early,
        "early_max_rel_diff": float(np.max(early_rel)),
        "final_equal_rtol_only": int(strict.sum()),
        "final_equal": int(close.sum()),
        "final_unequal_rounding_sensitive": int((~close).sum()),
        "final_max_rel_diff_equal_members": float(np.nanmax(np.where(close, rel, 0))),
        "final_max_rel_diff": float(np.nanmax(rel)),
        "diverged_members": int((~np.isfinite(seq)).sum()),
    }


def fresh_member(task, hp, batches):
    """A new program for one member: hyperparameters closed over as Python numbers."""
    fixed = {k: v.item() for k, v in hp.items()}
    losses, _ = jax.jit(lambda b: member_program(task)(fixed, b))(batches)
    return np.asarray(losses)


def benchmark_population(task, population, rounds, clock):
    hp = space.random(SPACE, population, seed=0)
    members = [{k: np.asarray(v)[i] for k, v in hp.items()} for i in range(population)]
    batches = task.batches
    row = {"population": population}

    # first calls: compile + run
    result, wall, comp, n = clock(lambda: run(task.init, task.step, hp, batches))
    row["vmapped_run_first"] = {"wall_s": wall, "compile_s": comp, "compiles": n}
    traces = []
    member = member_program(task)

    def counted(hp, batches):
        traces.append(1)
        return member(hp, batches)

    program = jax.jit(counted)
    _, first, first_comp, _ = clock(lambda: program(members[0], batches))
    _, second, _, _ = clock(lambda: program(members[1 % population], batches))
    row["sequential_first_call_s"] = first
    row["sequential_second_call_s"] = second
    row["sequential_compile_s"] = first - second
    row["sequential_compile_events_s"] = first_comp

    start = programs.start(task.init)
    advance = programs.advance(task.init, task.step, True)
    steps = jax.tree.leaves(batches)[0].shape[0]

    def vmapped_once():
        values, losses = start(hp), []
        for first in range(0, steps, programs.BLOCK):
            n = min(programs.BLOCK, steps - first)
            values, out = advance(values, hp, batches, np.int32(first), np.int32(n))
            losses.append(np.asarray(out["loss"])[:, :n])
        return np.concatenate(losses, 1)

    _, seg_first, seg_comp, _ = clock(vmapped_once)
    row["vmapped_program_first_call_s"] = seg_first
    row["vmapped_program_compile_s"] = seg_comp

    # equal results before timing
    seq_losses = sequential(program, members, batches)
    row["check"] = check_equal(result.losses, seq_losses, members, program, batches)

    # timed rounds, rotating order
    variants = {
        "vmapped_run": lambda: run(task.init, task.step, hp, batches).losses,
        "vmapped_program": vmapped_once,
        "sequential": lambda: sequential(program, members, batches),
    }
    times = {name: [] for name in variants}
    run_compile, run_compiles = [], []
    names = list(variants)
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            _, wall, comp, n = clock(variants[name])
            times[name].append(wall)
            if name == "vmapped_run":
                run_compile.append(comp)
                run_compiles.append(n)
    assert len(traces) == 1, f"the sequential program was traced {len(traces)} times"

    fresh = []
    for i in range(min(NAIVE_MAX, population)):
        _, wall, _, _ = clock(lambda i=i: fresh_member(task, members[i], batches))
        fresh.append(wall)

    med = {name: statistics.median(v) for name, v in times.items()}
    vm_compile = row["vmapped_run_first"]["compile_s"]  # later calls reuse its programs
    vm_run = statistics.median(
        w - c for w, c in zip(times["vmapped_run"], run_compile, strict=True)
    )
    seq_compile = row["sequential_compile_s"]
    row.update(
        {
            "vmapped_run_total_s": med["vmapped_run"],
            "vmapped_run_compile_s": vm_compile,
            "vmapped_run_compiles_per_call": int(statistics.median(run_compiles)),
            "vmapped_run_s": vm_run,
            "vmapped_program_run_s": med["vmapped_program"],
            "sequential_run_s": med["sequential"],
            "sequential_per_member_ms": 1e3 * med["sequential"] / population,
            "fresh_jit_member_s": statistics.median(fresh),
            "fresh_jit_members_timed": len(fresh),
            "fresh_jit_total_s": sum(fresh) if len(fresh) == population else None,
            "fresh_jit_estimated_s": statistics.median(fresh) * population,
            "speedup_without_compile": med["sequential"] / vm_run,
            "speedup_without_compile_per_round": [
                s / (w - c)
                for s, w, c in zip(
                    times["sequential"], times["vmapped_run"], run_compile, strict=True
                )
            ],
            "speedup_without_compile_program": med["sequential"] / med["vmapped_program"],
            "speedup_with_compile": (seq_compile + med["sequential"]) / (vm_compile + vm_run),
            "speedup_vs_fresh_jit_estimated": (
                sum(fresh) if len(fresh) == population else statistics.median(fresh) * population
            )
            / (vm_compile + vm_run),
            "rounds": {name: v for name, v in times.items()} | {"vmapped_run_compile": run_compile},
        }
    )
    return row


def progress_overhead(task, population, rounds, clock):
    hp = space.random(SPACE, population, seed=0)
    steps = task.batches.shape[0]
    segments = max(1, steps // 10)

    def plain():
        return run(task.init, task.step, hp, task.batches, eval_every=steps).losses

    def with_progress():
        with contextlib.redirect_stderr(io.StringIO()):
            return run(
                task.init, task.step, hp, task.batches, eval_every=segments, progress=True
            ).losses

    walls = {"one_segment": [], "progress": []}
    runs = {"one_segment": [], "progress": []}
    ratios = []
    for r in range(rounds):
        order = ("one_segment", "progress") if r % 2 == 0 else ("progress", "one_segment")
        for name in order:
            _, wall, comp, _ = clock(plain if name == "one_segment" else with_progress)
            walls[name].append(wall)
            runs[name].append(wall - comp)
        ratios.append(runs["progress"][-1] / runs["one_segment"][-1])
    med = {f"{k}_total_s": statistics.median(v) for k, v in walls.items()}
    med |= {f"{k}_run_s": statistics.median(v) for k, v in runs.items()}
    return {
        "population": population,
        "eval_every": segments,
        **med,
        "ratio_total": med["progress_total_s"] / med["one_segment_total_s"],
        "ratio_run": med["progress_run_s"] / med["one_segment_run_s"],
        "ratio_run_per_round_median": statistics.median(ratios),
        "ratio_run_per_round_min": min(ratios),
        "ratio_run_per_round_max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="vmapped sweep vs a sequential loop")
    parser.add_argument("--populations", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--progress-rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and short")
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    args = parser.parse_args()
    if args.quick:
        args.populations, args.steps, args.rounds, args.progress_rounds = [8, 16], 40, 1, 1
    backend = jax.default_backend()
    out = args.out
    if out is None and not args.quick:
        out = Path(__file__).resolve().parent / "results" / f"sweep_{backend}.json"

    device = jax.devices()[0]
    print(
        f"jax {jax.__version__}, optax {optax.__version__}, backend {backend}, "
        f"device {device.device_kind} ({device}), {os.cpu_count()} CPUs",
        flush=True,
    )
    t_start = time.perf_counter()
    clock = CompileClock()
    data = digits.load()
    task = digits.task(data, args.steps, schedules=SCHEDULES, optimizers=OPTIMIZERS)
    rows = [benchmark_population(task, p, args.rounds, clock) for p in args.populations]
    prog = [progress_overhead(task, p, args.progress_rounds, clock) for p in args.populations]
    elapsed = time.perf_counter() - t_start

    print(
        f"\ndigits MLP, {args.steps} steps, {'/'.join(OPTIMIZERS)} x {len(SCHEDULES)} "
        f"schedules, peak log-uniform [1e-4, 1]; medians of {args.rounds} rotating rounds"
    )
    for r in rows:
        c = r["check"]
        print(
            f"population {r['population']}: vmapped vs sequential losses: first "
            f"{c['early_steps_checked']} steps max rel diff {c['early_max_rel_diff']:.1e}; final "
            f"loss equal (rtol {c['rtol']:g}, atol {c['atol']:g}) for {c['final_equal']}/"
            f"{c['members']} members ({c['final_equal_rtol_only']} with rtol alone), max rel "
            f"diff {c['final_max_rel_diff_equal_members']:.1e};\n  the other "
            f"{c['final_unequal_rounding_sensitive']} are rounding-chaotic: a 1-ulp change of "
            f"peak moves their sequential loss curve beyond the tolerance (max rel diff "
            f"vmapped/sequential {c['final_max_rel_diff']:.2g})"
        )
    print(f"{'population':>10s} {'variant':36s} {'compile s':>9s} {'run s':>8s} {'total s':>8s}")
    for r in rows:
        p = r["population"]
        prog_run = r["vmapped_program_run_s"]
        table = [
            ("vmapped: lrjax.sweep.run", r["vmapped_run_compile_s"], r["vmapped_run_s"]),
            (
                "vmapped: same program, reused",
                r["vmapped_program_compile_s"],
                prog_run,
            ),
            ("sequential: jit once, Python loop", r["sequential_compile_s"], r["sequential_run_s"]),
        ]
        for name, comp, run_s in table:
            print(f"{p:10d} {name:36s} {comp:9.2f} {run_s:8.3f} {comp + run_s:8.2f}")
        measured = r["fresh_jit_total_s"] is not None
        name = "naive: fresh jit each" + ("" if measured else " (estimated)")
        total = r["fresh_jit_total_s"] if measured else r["fresh_jit_estimated_s"]
        print(f"{p:10d} {name:36s} {'':>9s} {'':>8s} {total:8.2f}")
    print(
        f"\nSpeedup of the vmapped sweep = sequential time / vmapped (lrjax.sweep.run) time"
        f"\n{'population':>10s} {'run only':>9s} {'[min, max] per round':>21s} {'(reused)':>9s} "
        f"{'with compile':>12s} {'vs naive':>19s}"
    )
    for r in rows:
        per_round = r["speedup_without_compile_per_round"]
        spread = f"[{min(per_round):.2f}, {max(per_round):.2f}]"
        print(
            f"{r['population']:10d} {r['speedup_without_compile']:9.2f} {spread:>21s} "
            f"{r['speedup_without_compile_program']:9.2f} {r['speedup_with_compile']:12.2f} "
            f"{r['speedup_vs_fresh_jit_estimated']:19.2f}"
        )
    compiles = ", ".join(str(r["vmapped_run_compiles_per_call"]) for r in rows)
    legend = [
        "run only: without compile; with compile: compile once + run, what a fresh process pays.",
        "lrjax.sweep.run compiles in its first call only (backend compiles in the timed calls: "
        + compiles
        + "); its compile time is that first call's, its run time the timed calls' wall time",
        "  minus JAX's trace/lower/compile time spans.",
        "(reused): against the vmapped program built once: compile = JAX's spans in its first",
        "  call, run = median of its later calls.",
        f"naive: every member compiled and run (up to {NAIVE_MAX}; beyond, the median of "
        f"{NAIVE_MAX} members times the population).",
    ]
    print("\n".join(legend))
    print(
        f"\nProgress overhead: run(eval_every=steps) vs run(eval_every=steps//10, "
        f"progress=True), medians of {args.progress_rounds} alternating rounds"
    )
    print(
        f"{'population':>10s} {'one segment s':>13s} {'progress s':>10s} {'ratio':>6s} "
        f"{'run-only s (1 / 10 seg)':>24s} {'ratio':>6s} {'[min, max]':>13s}"
    )
    for g in prog:
        print(
            f"{g['population']:10d} {g['one_segment_total_s']:13.2f} "
            f"{g['progress_total_s']:10.2f} {g['ratio_total']:6.2f} "
            f"{g['one_segment_run_s']:11.3f} / {g['progress_run_s']:.3f} "
            f"{g['ratio_run']:6.2f} [{g['ratio_run_per_round_min']:.2f}, "
            f"{g['ratio_run_per_round_max']:.2f}]"
        )
    print(f"\nbenchmark time {elapsed:.0f} s")

    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "machine": platform.platform(),
            "cpu_count": os.cpu_count(),
            "backend": backend,
            "device": device.device_kind,
            "devices": [str(d) for d in jax.devices()],
            "versions": {"jax": jax.__version__, "optax": optax.__version__},
            "date": time.strftime("%Y-%m-%d"),
            "settings": {
                "steps": args.steps,
                "populations": args.populations,
                "rounds": args.rounds,
                "progress_rounds": args.progress_rounds,
                "schedules": SCHEDULES,
                "optimizers": OPTIMIZERS,
                "peak": [1e-4, 1.0],
                "batch": 64,
                "naive_max": NAIVE_MAX,
            },
            "results": rows,
            "progress_overhead": prog,
            "benchmark_s": elapsed,
        }
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
