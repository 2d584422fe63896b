"""Generate the reference trajectories of mechanic-pytorch 0.0.1 (Mechanic) and
parameterfree 0.0.1 (COCOB-Backprop) by running the packages themselves.

Not part of the test suite (lrjax depends on neither package, nor on torch). It writes
``tests/refs/lrfree_package_refs.json`` following the protocol of
``shared/refs/lrfree_refs.json`` (its "protocol" section):

* float64 throughout (``torch.set_default_dtype(torch.float64)``), CPU;
* p in R^7 starts at ``problem.p0``; ``g(p) = A @ p - b + cubic_coef * (p * p * p)``
  (the problem is read from ``tests/refs/lrfree_refs.json``);
* one param group; one tensor unless the case has ``param_split`` ([3, 4]: two tensors
  p[:3] and p[3:], gradient computed on the concatenation and split);
* for k in range(N): set p.grad = g(p_k), ``optimizer.step()``; ``trajectory[k]`` = the
  params after k updates (N + 1 rows, row 0 = p0);
* per-step state, read right after step k (N rows): Mechanic's ``s``, ``max_product``
  (m), ``reward`` (r) and ``sum_squared_products`` (v), each a list of len(betas), and
  ``s_sum`` = Σs; COCOB's per-coordinate ``L``, ``reward``, ``grad_norm_sum`` and
  ``sum_negative_gradients`` (concatenated over tensors).

To regenerate, from the repository root, install the two packages into a throwaway
environment without their dependencies and run with the project's torch:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install --no-deps mechanic-pytorch==0.0.1 parameterfree==0.0.1
    PYTHONPATH=/tmp/refvenv/lib/python3.X/site-packages .venv/bin/python \
        tests/refs/generate_lrfree_package_refs.py
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import mechanic_pytorch
import parameterfree
import torch
from mechanic_pytorch.__about__ import __version__ as MECHANIC_VERSION

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

N_STEPS = 50
HERE = Path(__file__).resolve().parent
OUT = HERE / "lrfree_package_refs.json"
PROBLEM = json.loads((HERE / "lrfree_refs.json").read_text())["problem"]


def grad(p):
    A = torch.tensor(PROBLEM["A"])
    b = torch.tensor(PROBLEM["b"])
    return A @ p - b + PROBLEM["cubic_coef"] * (p * p * p)


def run(make, split, record, perturb=False):
    p0 = torch.tensor(PROBLEM["p0"])
    params = [torch.nn.Parameter(x.clone()) for x in (p0.split(split) if split else [p0])]
    opt = make(params)
    trajectory, states = [p0.tolist()], []
    for k in range(N_STEPS):
        full = torch.cat([p.detach() for p in params])
        g_full = grad(full)
        if perturb:
            g_full = g_full * (1 + 1e-13 * torch.sin(1.0 + torch.arange(7.0) + 7 * k))
        for p, g in zip(params, g_full.split([p.numel() for p in params]), strict=True):
            p.grad = g.clone()
        opt.step()
        trajectory.append(torch.cat([p.detach() for p in params]).tolist())
        states.append(record(opt, params))
    case = {"n_steps": N_STEPS, "trajectory": trajectory}
    for key in states[0]:
        case[key] = [s[key] for s in states]
    if split:
        case["param_split"] = list(split)
    if not perturb:
        # The same run with each gradient g_k multiplied by (1 + 1e-13 sin(1 + i + 7k)):
        # how much rounding differences of a reimplementation can grow (lrfree_refs.json's
        # "sensitivity").
        other = torch.tensor(run(make, split, record, perturb=True)["trajectory"])
        ours = torch.tensor(trajectory)
        rows = (other - ours).abs().amax(dim=1) / ours.abs().amax(dim=1)
        case["sensitivity"] = {
            "grad_rel_perturbation": 1e-13,
            "max_rel_row_deviation": float(rows.max()),
        }
    return case


def mechanic_record(opt, params):
    st = opt.state["_mechanic"]
    return {
        "s": st["s"].tolist(),
        "s_sum": float(st["s"].sum()),
        "max_product": st["max_product"].tolist(),
        "reward": st["reward"].tolist(),
        "sum_squared_products": st["sum_squared_products"].tolist(),
    }


def cocob_record(opt, params):
    keys = {"L": "L", "reward": "reward", "grad_norm_sum": "grad_norm_sum"}
    keys["sum_negative_gradients"] = "sum_negative_gradients"
    return {k: torch.cat([opt.state[p][v] for p in params]).tolist() for k, v in keys.items()}


MECHANIC = [
    # (name, base class, base kwargs, mechanize kwargs, split)
    ("mechanic_sgd", "SGD", {"lr": 0.1}, {}, None),
    ("mechanic_sgd_momentum", "SGD", {"lr": 0.1, "momentum": 0.9}, {}, (3, 4)),
    ("mechanic_adam", "Adam", {"lr": 0.1}, {}, None),
    (
        "mechanic_sgd_options",
        "SGD",
        {"lr": 0.1},
        {"s_decay": 0.1, "betas": (0.9, 0.99, 0.999), "s_init": 1e-5, "eps": 1e-6},
        None,
    ),
    ("mechanic_adam_no_decay", "Adam", {"lr": 0.1}, {"s_decay": 0.0, "s_init": 1e-6}, None),
    ("mechanic_sgd_store_delta", "SGD", {"lr": 0.1}, {"store_delta": True}, None),
]
COCOB = [
    ("cocob_default", {}, None),
    ("cocob_options", {"alpha": 10.0, "eps": 1e-6, "weight_decay": 0.01}, (3, 4)),
]


def main():
    cases = []
    for name, base, base_kwargs, kwargs, split in MECHANIC:
        cls = mechanic_pytorch.mechanize(getattr(torch.optim, base), **kwargs)
        case = run(lambda ps, c=cls, b=base_kwargs: c(ps, **b), split, mechanic_record)
        cases.append(
            {
                "name": name,
                "family": "mechanic",
                "package": "mechanic-pytorch",
                "version": MECHANIC_VERSION,
                "call": f"mechanize(torch.optim.{base}, **kwargs)(params, **base_kwargs)",
                "base": base,
                "base_kwargs": base_kwargs,
                "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
                **case,
            }
        )
    for name, kwargs, split in COCOB:
        case = run(lambda ps, k=kwargs: parameterfree.COCOB(ps, **k), split, cocob_record)
        cases.append(
            {
                "name": name,
                "family": "cocob",
                "package": "parameterfree",
                "version": "0.0.1",
                "call": "parameterfree.COCOB(params, **kwargs)",
                "kwargs": kwargs,
                **case,
            }
        )
    data = {
        "protocol": __doc__,
        "problem": PROBLEM,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "mechanic-pytorch": MECHANIC_VERSION,
            "parameterfree": "0.0.1",
        },
        "cases": cases,
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
