"""Generate torch.optim.Adafactor reference cases by running PyTorch itself.

Not part of the test suite (lrjax never depends on torch). It writes
``tests/refs/factored_refs.json`` with two kinds of cases, float64 throughout, one param
group, ``foreach=False``, 50 updates, per step: read ``lrs[k]``, set ``p.grad = g(p)``,
``opt.step()``, then ``sched.step()``:

* kind "optimizer" / "optimizer_with_schedule": the shared 7-vector problem of
  ``shared/refs/peer_refs.json`` (``p0``, ``g(p) = A @ p - b + c p³``), in the format of
  ``generate_optimizer_refs.py``, replayed by tests/test_peer_optimizers.py;
* kind "factored": several tensors in one group, a 3x4 matrix "m" and a 2x3x4 tensor "t"
  (factored over their last two dimensions), a vector "v" and a scalar "s", with
  ``g(p) = w * (p - target) + 0.1 p³`` per tensor (``w``, ``target`` and ``p0`` below);
  ``trajectory[name]`` has 51 entries (p0, then p after each update) and
  ``final_state[name]`` is torch's state of that tensor after the last update. Replayed
  by tests/test_factored.py.

Run from the repository root with torch 2.13 installed:

    .venv/bin/python tests/refs/generate_factored_refs.py
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import numpy as np
import torch
import torch.optim.lr_scheduler as tsched
from generate_optimizer_refs import run_case

torch.set_default_dtype(torch.float64)

N_STEPS = 50
OUT = Path(__file__).resolve().parent / "factored_refs.json"
_IMPL_KEYS = ("foreach", "capturable", "differentiable", "fused")


def _problem() -> dict:
    rng = np.random.default_rng(20261207)
    shapes = {"m": (3, 4), "t": (2, 3, 4), "v": (5,), "s": ()}
    out = {}
    for name, shape in shapes.items():
        out[name] = {
            "p0": np.round(rng.normal(size=shape) * 2, 3).tolist(),
            "target": np.round(rng.normal(size=shape), 3).tolist(),
            "w": np.round(rng.uniform(0.5, 3.0, size=shape), 3).tolist(),
        }
    return out


PROBLEM = _problem()


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.item() if value.dim() == 0 else value.tolist()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def run_factored(name, hyperparams, schedule=None, note=None, n_steps=N_STEPS):
    params = {k: torch.tensor(v["p0"], requires_grad=True) for k, v in PROBLEM.items()}
    consts = {k: (torch.tensor(v["w"]), torch.tensor(v["target"])) for k, v in PROBLEM.items()}
    kwargs = {k: tuple(v) if k == "eps" else v for k, v in hyperparams.items()}
    opt = torch.optim.Adafactor(list(params.values()), foreach=False, **kwargs)
    defaults_filled = {k: _jsonable(v) for k, v in opt.defaults.items() if k not in _IMPL_KEYS}
    sched = None
    if schedule is not None:
        sched_kwargs = {k: v for k, v in schedule.items() if k != "scheduler"}
        sched = getattr(tsched, schedule["scheduler"].rsplit(".", 1)[-1])(opt, **sched_kwargs)
    trajectory = {k: [p.detach().tolist()] for k, p in params.items()}
    lrs = []
    for _ in range(n_steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        for k, p in params.items():
            w, target = consts[k]
            with torch.no_grad():
                x = p.detach()
                p.grad = w * (x - target) + 0.1 * x * x * x
        opt.step()
        if sched is not None:
            sched.step()
        for k, p in params.items():
            trajectory[k].append(p.detach().tolist())
    for rows in trajectory.values():
        if not all(math.isfinite(x) for x in np.ravel(rows)):
            raise ValueError(f"{name}: non-finite trajectory")
    final_state = {
        k: {s: _jsonable(v) for s, v in opt.state[p].items() if v is not None}
        for k, p in params.items()
    }
    case = {
        "name": name,
        "library": "torch",
        "kind": "factored",
        "optimizer": "torch.optim.Adafactor",
        "hyperparams": dict(hyperparams),
        "defaults_filled": defaults_filled,
        "n_steps": n_steps,
        "trajectory": trajectory,
        "final_state": final_state,
        "lrs": lrs,
    }
    if schedule is not None:
        case["schedule"] = dict(schedule)
    if note:
        case["note"] = note
    return case


def _s(name, **kwargs):
    return {"scheduler": f"torch.optim.lr_scheduler.{name}", **kwargs}


# On the shared 7-vector problem (unfactored): (name, hyperparams, schedule, note)
VECTOR_CASES = [
    ("x_opt_adafactor_defaults", {}, None, "lr=1e-2 caps rho_t = min(lr, 1/sqrt(t))."),
    (
        "x_opt_adafactor_relative_step_wd",
        {"lr": 0.3, "weight_decay": 0.05},
        None,
        "rho_t = 1/sqrt(t) < lr from t = 12; the decoupled decay uses lr, not rho_t.",
    ),
    (
        "x_opt_adafactor_eps_d_beta2",
        {"lr": 0.05, "beta2_decay": -0.5, "eps": [1e-3, 0.5], "d": 2.0},
        None,
        "eps2 = 0.5 floors the parameter scale; eps1 = 1e-3 floors sqrt(v).",
    ),
    ("x_opt_adafactor_maximize", {"lr": 0.01, "maximize": True}, None, None),
    ("x_opt_adafactor_steplr", {"lr": 0.05}, _s("StepLR", step_size=10, gamma=0.5), None),
]

# On the multi-tensor problem: (name, hyperparams, schedule, note)
FACTORED_CASES = [
    ("adafactor_defaults", {}, None, None),
    (
        "adafactor_relative_step_wd",
        {"lr": 0.3, "weight_decay": 0.02},
        None,
        "rho_t = 1/sqrt(t) once t > 11.",
    ),
    (
        "adafactor_eps_d_beta2",
        {"lr": 0.02, "beta2_decay": -0.6, "eps": [1e-2, 1e-1], "d": 1.5},
        None,
        "d = 1.5; eps1 = 1e-2 floors the row mean and sqrt(v).",
    ),
    ("adafactor_maximize", {"lr": 0.01, "maximize": True}, None, None),
    ("adafactor_cosine", {"lr": 0.1}, _s("CosineAnnealingLR", T_max=50, eta_min=0.001), None),
]


def main():
    cases = [run_case(name, "Adafactor", h, s, note) for name, h, s, note in VECTOR_CASES]
    cases += [run_factored(*spec) for spec in FACTORED_CASES]
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("duplicate case names")
    note = (
        "Generated by tests/refs/generate_factored_refs.py with torch "
        f"{torch.__version__} (python {platform.python_version()}), float64, foreach=False, "
        "50 updates. Kinds 'optimizer'/'optimizer_with_schedule': the shared 7-vector "
        "problem and protocol of optimizer_refs.json. Kind 'factored': the tensors of "
        "'problem' in one param group, g = w * (p - target) + 0.1 p^3 per tensor; "
        "trajectory[name][k] = that tensor after k updates; final_state[name] = its torch "
        "state; lrs[k] = the group lr of update k. Compare with rtol 1e-10."
    )
    body = ",\n".join(json.dumps(c) for c in cases)
    OUT.write_text(
        f'{{"note": {json.dumps(note)},\n"problem": {json.dumps(PROBLEM)},\n'
        f'"cases": [\n{body}\n]}}\n'
    )
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
