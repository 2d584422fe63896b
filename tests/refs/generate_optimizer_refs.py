"""Generate extra torch.optim optimizer reference cases by running PyTorch itself.

Not part of the test suite (lrjax never depends on torch). It writes
``tests/refs/optimizer_refs.json`` with cases in the format of the "optimizer" and
"optimizer_with_schedule" cases of ``shared/refs/peer_refs.json`` and follows the same
replay protocol (that file's "protocol"; ``shared/refs/PEERS.md`` sections 0 and 4):

* float64 throughout; ``p`` in R^7 starts at ``P0``; ``g(p) = A @ p - b + c * (p * p * p)``
  (the constants below are copied verbatim from ``peer_refs.json["problem"]``);
* one tensor in one param group, ``foreach=False``, 50 updates;
* per step: read ``lrs[k]`` (and ``momentums[k]`` for momentum-cycling schedulers), compute
  ``g`` at the current ``p``, set ``p.grad = g``, ``opt.step()``, then ``sched.step()``;
* ``trajectory`` has 51 rows (``P0`` then ``p`` after each update) and ``final_state`` is the
  optimizer state of the tensor after the last update (tensors as lists, scalar tensors as
  floats, ``None`` entries dropped).

To regenerate, from the repository root, in a separate environment with torch 2.13.0:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/refvenv/bin/python tests/refs/generate_optimizer_refs.py
"""

from __future__ import annotations

import json
import math
import platform
from pathlib import Path

import torch
import torch.optim.lr_scheduler as tsched

torch.set_default_dtype(torch.float64)

N_STEPS = 50
OUT = Path(__file__).resolve().parent / "optimizer_refs.json"

# The shared optimizer problem (peer_refs.json["problem"]), copied verbatim.
P0 = [1.0, -2.0, 0.5, 3.0, -1.5, 0.25, -0.75]
A = [
    [2.0, 0.25, -0.125, 0.0, 0.0, 0.0, 0.0],
    [0.25, 2.5, 0.25, -0.125, 0.0, 0.0, 0.0],
    [-0.125, 0.25, 3.0, 0.25, -0.125, 0.0, 0.0],
    [0.0, -0.125, 0.25, 3.5, 0.25, -0.125, 0.0],
    [0.0, 0.0, -0.125, 0.25, 4.0, 0.25, -0.125],
    [0.0, 0.0, 0.0, -0.125, 0.25, 4.5, 0.25],
    [0.0, 0.0, 0.0, 0.0, -0.125, 0.25, 5.0],
]
B = [0.5, -1.0, 0.0, 2.0, 0.25, -0.5, 1.0]
CUBIC_COEF = 0.1

# Constructor arguments that only select an implementation; never recorded.
_IMPL_KEYS = ("foreach", "capturable", "differentiable", "fused")


def grad(p, a, b):
    return a @ p - b + CUBIC_COEF * (p * p * p)


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.item() if value.dim() == 0 else value.tolist()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _build_scheduler(opt, name, kwargs):
    kwargs = dict(kwargs)
    if "schedulers" in kwargs:
        kwargs["schedulers"] = [
            _build_scheduler(opt, child["type"], {k: v for k, v in child.items() if k != "type"})
            for child in kwargs["schedulers"]
        ]
    if name == "ChainedScheduler":
        return tsched.ChainedScheduler(**kwargs)
    return getattr(tsched, name)(opt, **kwargs)


def _cycles_momentum(schedule):
    name = schedule["scheduler"].rsplit(".", 1)[-1]
    return name in ("OneCycleLR", "CyclicLR") and schedule.get("cycle_momentum", True)


def run_case(name, optimizer, hyperparams, schedule=None, note=None, n_steps=N_STEPS):
    """Replay one case and return its JSON record."""
    a = torch.tensor(A)
    b = torch.tensor(B)
    p = torch.tensor(P0, requires_grad=True)
    opt_cls = getattr(torch.optim, optimizer)
    kwargs = {k: tuple(v) if k == "betas" else v for k, v in hyperparams.items()}
    opt = opt_cls([p], foreach=False, **kwargs)
    defaults_filled = {k: _jsonable(v) for k, v in opt.defaults.items() if k not in _IMPL_KEYS}

    sched = None
    if schedule is not None:
        sched_name = schedule["scheduler"].rsplit(".", 1)[-1]
        sched_kwargs = {k: v for k, v in schedule.items() if k != "scheduler"}
        sched = _build_scheduler(opt, sched_name, sched_kwargs)
        record_momentum = _cycles_momentum(schedule)

    trajectory = [p.detach().tolist()]
    lrs, momentums = [], []
    for _ in range(n_steps):
        group = opt.param_groups[0]
        if sched is not None:
            lrs.append(float(group["lr"]))
            if record_momentum:
                m = group["betas"][0] if "betas" in group else group["momentum"]
                momentums.append(float(m))
        with torch.no_grad():
            g = grad(p.detach(), a, b)
        p.grad = g
        opt.step()
        if sched is not None:
            sched.step()
        trajectory.append(p.detach().tolist())

    if not all(math.isfinite(x) for row in trajectory for x in row):
        raise ValueError(f"{name}: non-finite trajectory")
    state = opt.state[p]
    final_state = {k: _jsonable(v) for k, v in state.items() if v is not None}

    case = {
        "name": name,
        "library": "torch",
        "kind": "optimizer" if schedule is None else "optimizer_with_schedule",
        "optimizer": f"torch.optim.{optimizer}",
        "hyperparams": dict(hyperparams),
        "defaults_filled": defaults_filled,
        "n_steps": n_steps,
        "trajectory": trajectory,
        "final_state": final_state,
    }
    if schedule is not None:
        case["schedule"] = dict(schedule)
        case["lrs"] = lrs
        if record_momentum:
            case["momentums"] = momentums
    if note:
        case["note"] = note
    return case


def _s(name, **kwargs):
    return {"scheduler": f"torch.optim.lr_scheduler.{name}", **kwargs}


# (name, optimizer, hyperparams, schedule or None, note or None)
CASES = [
    # ---------------------------------------------------------------- SGD
    (
        "x_opt_sgd_momentum_dampening",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.5},
        None,
        "First step: buffer = g (no (1-dampening) factor); later b = mu*b + (1-dampening)*g.",
    ),
    (
        "x_opt_sgd_momentum_dampening_wd",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01},
        None,
        None,
    ),
    (
        "x_opt_sgd_momentum_maximize",
        "SGD",
        {"lr": 0.001, "momentum": 0.9, "maximize": True},
        None,
        "maximize ascends g (p moves away from the minimum); small lr keeps it finite.",
    ),
    ("x_opt_sgd_weight_decay", "SGD", {"lr": 0.05, "weight_decay": 0.05}, None, None),
    ("x_opt_sgd_nesterov", "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}, None, None),
    (
        "x_opt_sgd_default_lr",
        "SGD",
        {"momentum": 0.9},
        None,
        "lr omitted: torch's default SGD lr is 1e-3.",
    ),
    (
        "x_opt_sgd_dampening_steplr",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.1},
        _s("StepLR", step_size=7, gamma=0.5),
        None,
    ),
    (
        "x_opt_sgd_onecycle",
        "SGD",
        {"lr": 0.05, "momentum": 0.9},
        _s("OneCycleLR", max_lr=0.1, total_steps=50),
        "OneCycleLR ignores the optimizer lr and cycles group['momentum'] (0.95 -> 0.85 -> 0.95).",
    ),
    (
        "x_opt_sgd_cyclic_triangular2",
        "SGD",
        {"lr": 0.05},
        _s("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2"),
        "SGD built WITHOUT momentum: CyclicLR's default cycle_momentum=True overwrites lr with "
        "base_lr and sets group['momentum'] = max_momentum 0.9, which turns momentum on; "
        "momentums records the cycled value (0.9 -> 0.8, amplitude halving per cycle).",
    ),
    (
        "x_opt_sgd_momentum_cyclic_triangular2",
        "SGD",
        {"lr": 0.05, "momentum": 0.5},
        _s("CyclicLR", base_lr=0.01, max_lr=0.1, step_size_up=5, mode="triangular2"),
        "As x_opt_sgd_cyclic_triangular2 but with momentum=0.5 given: overwritten by 0.9.",
    ),
    (
        "x_opt_sgd_nesterov_cosine",
        "SGD",
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
        _s("CosineAnnealingLR", T_max=20, eta_min=0.001),
        "CosineAnnealingLR is not clamped: after T_max=20 the lr climbs back up.",
    ),
    # ------------------------------------------------------------ Adagrad
    ("x_opt_adagrad_lr_decay", "Adagrad", {"lr": 0.1, "lr_decay": 0.05}, None, None),
    (
        "x_opt_adagrad_init_acc_eps",
        "Adagrad",
        {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3},
        None,
        None,
    ),
    ("x_opt_adagrad_weight_decay", "Adagrad", {"lr": 0.1, "weight_decay": 0.01}, None, None),
    ("x_opt_adagrad_maximize", "Adagrad", {"lr": 0.1, "maximize": True}, None, None),
    (
        "x_opt_adagrad_lr_decay_exponential",
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.02},
        _s("ExponentialLR", gamma=0.95),
        "clr = scheduled_lr / (1 + (t-1)*lr_decay): lr_decay applies on top of the schedule.",
    ),
    # ----------------------------------------------------------- Adadelta
    ("x_opt_adadelta_rho_eps", "Adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-4}, None, None),
    ("x_opt_adadelta_weight_decay", "Adadelta", {"weight_decay": 0.01}, None, None),
    (
        "x_opt_adadelta_steplr",
        "Adadelta",
        {},
        _s("StepLR", step_size=10, gamma=0.5),
        "Adadelta default lr=1.0 is the scheduler's base.",
    ),
    ("x_opt_adadelta_maximize", "Adadelta", {"lr": 0.1, "maximize": True}, None, None),
    # ------------------------------------------------------------ RMSprop
    ("x_opt_rmsprop_momentum", "RMSprop", {"lr": 0.01, "momentum": 0.9}, None, None),
    (
        "x_opt_rmsprop_centered_momentum",
        "RMSprop",
        {"lr": 0.01, "centered": True, "momentum": 0.5},
        None,
        None,
    ),
    (
        "x_opt_rmsprop_alpha_eps_wd",
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.01},
        None,
        None,
    ),
    (
        "x_opt_rmsprop_momentum_cosine",
        "RMSprop",
        {"lr": 0.01, "momentum": 0.9},
        _s("CosineAnnealingLR", T_max=25),
        "torch scales the lr INSIDE the momentum buffer update (B = mu*B + g/d; p -= lr*B), "
        "so a scheduled lr is not equivalent to scaling the final update (optax rmsprop "
        "momentum applies the lr after the trace).",
    ),
    (
        "x_opt_rmsprop_centered_linear",
        "RMSprop",
        {"lr": 0.01, "centered": True},
        _s("LinearLR", start_factor=0.1, total_iters=10),
        None,
    ),
    (
        "x_opt_rmsprop_momentum_onecycle",
        "RMSprop",
        {"lr": 0.01, "momentum": 0.9},
        _s("OneCycleLR", max_lr=0.02, total_steps=50),
        "OneCycleLR cycles group['momentum'] (0.95 -> 0.85 -> 0.95), replacing the given 0.9.",
    ),
    # --------------------------------------------------------------- Adam
    (
        "x_opt_adam_l2",
        "Adam",
        {"lr": 0.05, "weight_decay": 0.01},
        None,
        "Adam weight_decay is L2 (added to the gradient before the moments).",
    ),
    (
        "x_opt_adam_amsgrad_l2",
        "Adam",
        {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01},
        None,
        None,
    ),
    ("x_opt_adam_betas_eps", "Adam", {"lr": 0.05, "betas": [0.5, 0.9], "eps": 1e-3}, None, None),
    (
        "x_opt_adam_decoupled",
        "Adam",
        {"lr": 0.05, "decoupled_weight_decay": True, "weight_decay": 0.1},
        None,
        "Adam(decoupled_weight_decay=True) is AdamW: p *= 1 - lr*wd before the update.",
    ),
    ("x_opt_adam_maximize", "Adam", {"lr": 0.05, "maximize": True}, None, None),
    (
        "x_opt_adam_onecycle",
        "Adam",
        {"lr": 0.05},
        _s("OneCycleLR", max_lr=0.1, total_steps=50),
        "OneCycleLR cycles betas[0] (0.95 -> 0.85 -> 0.95); each step's moment update and bias "
        "correction 1 - beta1^t use the CURRENT beta1.",
    ),
    (
        "x_opt_adam_amsgrad_multistep",
        "Adam",
        {"lr": 0.05, "amsgrad": True},
        _s("MultiStepLR", milestones=[10, 30], gamma=0.3),
        None,
    ),
    # -------------------------------------------------------------- AdamW
    (
        "x_opt_adamw_default_wd",
        "AdamW",
        {"lr": 0.05},
        None,
        "AdamW default weight_decay is 1e-2 (decoupled).",
    ),
    ("x_opt_adamw_amsgrad", "AdamW", {"lr": 0.05, "amsgrad": True}, None, None),
    (
        "x_opt_adamw_onecycle",
        "AdamW",
        {"lr": 0.05, "weight_decay": 0.1},
        _s("OneCycleLR", max_lr=0.1, total_steps=50),
        "Decoupled decay uses the scheduled lr (p *= 1 - lr_k*wd); betas[0] cycles.",
    ),
    (
        "x_opt_adamw_warm_restarts",
        "AdamW",
        {"lr": 0.05},
        _s("CosineAnnealingWarmRestarts", T_0=10, T_mult=2, eta_min=0.001),
        "Restarts to the base lr at k = 10 and k = 30.",
    ),
    (
        "x_opt_adamw_linear_then_exponential",
        "AdamW",
        {"lr": 0.05},
        {
            "scheduler": "torch.optim.lr_scheduler.SequentialLR",
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.1, "end_factor": 1.0, "total_iters": 5},
                {"type": "ExponentialLR", "gamma": 0.97},
            ],
            "milestones": [5],
        },
        None,
    ),
    # -------------------------------------------------------------- NAdam
    ("x_opt_nadam_momentum_decay", "NAdam", {"lr": 0.05, "momentum_decay": 0.01}, None, None),
    (
        "x_opt_nadam_betas_l2",
        "NAdam",
        {"lr": 0.05, "betas": [0.8, 0.99], "weight_decay": 0.01},
        None,
        None,
    ),
    (
        "x_opt_nadam_decoupled",
        "NAdam",
        {"lr": 0.05, "decoupled_weight_decay": True, "weight_decay": 0.1},
        None,
        None,
    ),
    (
        "x_opt_nadam_steplr",
        "NAdam",
        {"lr": 0.05},
        _s("StepLR", step_size=10, gamma=0.5),
        None,
    ),
    (
        "x_opt_nadam_onecycle",
        "NAdam",
        {"lr": 0.05},
        _s("OneCycleLR", max_lr=0.1, total_steps=50),
        "OneCycleLR cycles betas[0]; mu_t, mu_{t+1} and the m update use the current beta1, "
        "and mu_product accumulates the mu_t of every step.",
    ),
    # -------------------------------------------------------------- RAdam
    ("x_opt_radam_betas", "RAdam", {"lr": 0.05, "betas": [0.9, 0.99]}, None, None),
    ("x_opt_radam_l2", "RAdam", {"lr": 0.05, "weight_decay": 0.01}, None, None),
    (
        "x_opt_radam_decoupled",
        "RAdam",
        {"lr": 0.05, "decoupled_weight_decay": True, "weight_decay": 0.1},
        None,
        None,
    ),
    (
        "x_opt_radam_eps",
        "RAdam",
        {"lr": 0.05, "eps": 1e-3},
        None,
        "eps is added to the UNcorrected sqrt(v) in the rectified steps (t >= 6).",
    ),
    (
        "x_opt_radam_linear",
        "RAdam",
        {"lr": 0.05},
        _s("LinearLR", start_factor=0.5, total_iters=20),
        None,
    ),
    # ------------------------------------------------------------- Adamax
    ("x_opt_adamax_l2", "Adamax", {"lr": 0.05, "weight_decay": 0.01}, None, None),
    (
        "x_opt_adamax_eps",
        "Adamax",
        {"lr": 0.05, "eps": 1e-3},
        None,
        "eps is inside the max: u = max(beta2*u, |g| + eps).",
    ),
    ("x_opt_adamax_betas", "Adamax", {"lr": 0.05, "betas": [0.5, 0.9]}, None, None),
    # ---------------------------------------------------------------- ASGD
    ("x_opt_asgd_defaults", "ASGD", {}, None, "t0 = 1e6: ax is the last iterate throughout."),
    (
        "x_opt_asgd_averaging",
        "ASGD",
        {"lr": 0.05, "lambd": 0.1, "alpha": 0.75, "t0": 5.0, "weight_decay": 0.01},
        None,
        "Averaging starts after t0 = 5 updates; eta decays as (1 + lambd lr t)^-alpha.",
    ),
    # ---------------------------------------------------------------- Rprop
    ("x_opt_rprop_defaults", "Rprop", {}, None, "lr = 1e-2 is the initial step size only."),
    (
        "x_opt_rprop_etas_step_sizes",
        "Rprop",
        {"lr": 0.05, "etas": [0.3, 1.5], "step_sizes": [1e-3, 0.2]},
        None,
        "Step sizes clipped to [1e-3, 0.2]; a sign flip zeroes that coordinate's step.",
    ),
    (
        "x_opt_rprop_maximize",
        "Rprop",
        {"lr": 0.02, "maximize": True},
        None,
        "maximize negates the gradient before the sign comparison.",
    ),
    ("x_opt_adamax_maximize", "Adamax", {"lr": 0.01, "maximize": True}, None, None),
    (
        "x_opt_adamax_exponential",
        "Adamax",
        {"lr": 0.05},
        _s("ExponentialLR", gamma=0.9),
        None,
    ),
]


def main():
    cases = [run_case(*spec) for spec in CASES]
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        raise ValueError("duplicate case names")
    out = {
        "note": (
            "Generated by tests/refs/generate_optimizer_refs.py with torch "
            f"{torch.__version__} (python {platform.python_version()}), float64, following "
            "shared/refs/peer_refs.json's optimizer protocol: p0/A/b/cubic_coef of its "
            "'problem', g(p) = A @ p - b + cubic_coef * p**3, one tensor in one param group, "
            "foreach=False, 50 updates; per step read lrs[k] (and momentums[k]), set p.grad = "
            "g(p), opt.step(), sched.step(). trajectory[k] = p after k updates (51 rows); "
            "final_state = optimizer state after the last update. Compare with rtol 1e-10, "
            "atol 1e-12."
        ),
        "cases": cases,
    }
    # One case per line: diffable, and much smaller than indent=1 for the float arrays.
    body = ",\n".join(json.dumps(c) for c in cases)
    OUT.write_text(f'{{"note": {json.dumps(out["note"])},\n"cases": [\n{body}\n]}}\n')
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
