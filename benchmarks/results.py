"""Write ``benchmarks/RESULTS.md`` from the JSON files the benchmarks wrote.

    python -m benchmarks.results [--dir benchmarks/results] [--out benchmarks/RESULTS.md]

Every table states its machine, versions and date as recorded by the benchmark that made
it; nothing is measured here. Each ``<name>_<backend>.json`` present gets its section, so
GPU results (``*_gpu.json``) appear next to the CPU ones when they exist.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

FORMS = ("foreach", "fused")  # torch's implementations, as benchmarks/torch_peer.py names them


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _spread(row: dict, prefix: str = "ratio") -> str:
    return f"{row[f'{prefix}_median']:.2f} [{row[f'{prefix}_min']:.2f}, {row[f'{prefix}_max']:.2f}]"


def _origin(data: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
    device = data.get("device", data.get("backend", "?"))
    cpus = f", {data['cpu_count']} CPUs" if "cpu_count" in data else ""
    return f"{device}{cpus}; {versions}; {data.get('date', '?')}; {data.get('machine', '')}"


def optimizers(data: dict) -> str:
    rows = []
    for r in data["results"]:
        rows.append(
            [
                r["optimizer"],
                r.get("problem", r.get("shape", "?")),
                r.get("mode", "step"),
                f"{r['lrjax_ms']:.2f}",
                f"{r['optax_ms']:.2f}",
                _spread(r),
                f"{r['lrjax_gbps']:.1f}",
                f"{r['lrjax_copy_fraction']:.2f} / {r['optax_copy_fraction']:.2f}",
                f"{r['lrjax_compile_s']:.2f} / {r['optax_compile_s']:.2f}",
                *_torch_cells(r),
            ]
        )
    header = [
        "optimizer",
        "problem",
        "mode",
        "lrjax ms/step",
        "optax ms/step",
        "lrjax/optax [min, max]",
        "lrjax GB/s",
        "copy fraction lrjax / optax",
        "compile s lrjax / optax",
        "torch foreach / fused ms/step",
        "torch GB/s (best)",
        "lrjax / best torch [min, max]",
    ]
    return (
        "Step time of `opt.update` + `optax.apply_updates`, float32, params and state "
        "donated; `step` is one jitted call per step, `loop` is steps inside a jitted "
        "`lax.scan`. Ratio: median of per-round ratios (lrjax / optax) with min and max. "
        "Copy fraction: achieved bandwidth over a measured copy's. GB/s count the traffic "
        "the update needs: reading gradients and parameters, writing parameters, reading "
        "and writing each state array (7 floats per parameter for Adam). torch: "
        "`optimizer.step()` on the same buffers, timed in the same rounds, on the `step` "
        "rows (torch has no loop form); a form torch lacks here is shown as —.\n\n"
        + _table(header, rows)
    )


def _torch_cells(r: dict) -> list[str]:
    if "torch_best" not in r:
        return ["—", "—", "—"]
    forms = [f"{r[f'torch_{f}_ms']:.2f}" if f"torch_{f}_ms" in r else "—" for f in FORMS]
    best = r["torch_best"]
    return [" / ".join(forms), f"{r[f'torch_{best}_gbps']:.1f} ({best})", _spread(r, "torch_ratio")]


def schedules(data: dict) -> str:
    rows = [
        [
            r["schedule"],
            f"{r['lrjax_ms']:.2f}",
            f"{r['lrjax_closed_ms']:.2f}" if "lrjax_closed_ms" in r else "",
            f"{r['optax_ms']:.2f}",
            _spread(r),
            _spread(r, "closed_ratio") if "closed_ratio_median" in r else "",
        ]
        for r in data["evaluation"]
    ]
    header = [
        "schedule",
        "lrjax traced ms",
        "lrjax closed ms",
        "optax ms",
        "traced / optax",
        "closed / optax",
    ]
    sweep = data["sweep"]
    return (
        "Evaluation on 2**20 steps, jitted. Traced: the schedule is a jit argument (its "
        "hyperparameters traced, as in a sweep); closed: a closure over constants, as "
        "optax's.\n\n"
        + _table(header, rows)
        + f"\n{sweep['values']} values of a cosine schedule's (peak, horizon) through a jitted "
        f"SGD step: lrjax {sweep['lrjax_compiles']} compilation, "
        f"{sweep['lrjax_seconds']:.2f} s; optax {sweep['optax_compiles']} compilations, "
        f"{sweep['optax_seconds']:.2f} s.\n"
    )


def sweep(data: dict) -> str:
    rows = []
    for r in data["results"]:
        naive = r.get("fresh_jit_total_s") or r["fresh_jit_estimated_s"]
        naive_label = "" if r.get("fresh_jit_total_s") else " (est.)"
        rows.append(
            [
                str(r["population"]),
                f"{r['vmapped_run_compile_s']:.2f}",
                f"{r['vmapped_run_s']:.3f}",
                f"{r['sequential_compile_s']:.2f}",
                f"{r['sequential_run_s']:.3f}",
                f"{naive:.1f}{naive_label}",
                f"{r['speedup_without_compile']:.2f}",
                f"{r['speedup_with_compile']:.2f}",
                f"{r['speedup_vs_fresh_jit_estimated']:.1f}",
            ]
        )
    header = [
        "population",
        "vmapped compile s",
        "vmapped run s",
        "sequential compile s",
        "sequential run s",
        "naive total s",
        "speedup run only",
        "speedup with compile",
        "speedup vs naive",
    ]
    text = (
        "The digits MLP sweep: vmapped (`lrjax.sweep.run`), a precompiled sequential loop "
        "over members, and the naive loop compiling a new program per setting "
        "(hyperparameters as Python floats, as optax's closures force).\n\n" + _table(header, rows)
    )
    progress = data.get("progress_overhead", [])
    if progress:
        text += "\nProgress output per segment (10 segments) against one silent segment, run "
        text += "time ratio: " + ", ".join(
            f"{p['ratio_run']:.2f} at {p['population']}" for p in progress
        )
        text += ".\n"
    return text


def engine(data: dict) -> str:
    t = data["timings"]
    rows = [
        [name, f"{t[name]['compile_s']:.2f}", f"{t[name]['run_s']:.2f}"]
        for name in ("by_hand", "run_train", "run_steps")
    ]
    costs = ", ".join(f"{k} {1e3 * v:.1f} ms" for k, v in data["per_segment_s"].items())
    return (
        f"PPO on gymnax CartPole, {data['members']} members x {data['updates']} updates: a "
        "hand-written `jax.jit(jax.vmap(train))` (by_hand), `lrjax.sweep.run_train` on the same "
        f"`train`, and `lrjax.sweep.run` one update per step in {data['segments']} segments "
        "(`benchmarks/sweep_engine.py`); compile = JAX's spans in the first call, run = the "
        "median of later calls.\n\n"
        + _table(["variant", "compile s", "run s"], rows)
        + "\nRatios to by_hand: "
        + ", ".join(f"{k} {v:.3f}" for k, v in data["ratios"].items())
        + f".\n\nPer segment of the step form: {costs} (time inside the writers; checkpoint "
        "= gathering the carries and orbax's save).\n"
    )


SECTIONS = {"optimizers": optimizers, "schedules": schedules, "sweep": sweep, "engine": engine}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RESULTS.md"))
    args = parser.parse_args()
    parts = [
        "# Benchmark results\n",
        "Written by `make bench` (`python -m benchmarks.results` from the JSON files in "
        "`benchmarks/results/`). Every ratio is lrjax / optax (or lrjax / torch where the "
        "column says so) measured alternately in one process; lower is better.\n",
    ]
    for name, render in SECTIONS.items():
        for path in sorted(args.dir.glob(f"{name}_*.json")):
            data = json.loads(path.read_text())
            parts.append(f"## {name} ({path.stem.split('_')[-1]})\n")
            parts.append(f"{_origin(data)}\n")
            parts.append(render(data))
    args.out.write_text("\n".join(parts))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
