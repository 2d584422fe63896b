"""Generate extra peer reference cases by running PyTorch, Keras and timm themselves.

Not part of the test suite (it needs the peers, which lrjax never depends on). It writes
``tests/refs/extra_refs.json`` in the format of ``shared/refs/peer_refs.json`` and follows
the same replay protocol (see that file's "protocol"), with cases aimed at the quirks
documented in ``shared/refs/PEERS.md``. To regenerate, in a separate environment:

    python -m venv /tmp/refs && /tmp/refs/bin/pip install torch==2.13.0 keras scipy
    /tmp/refs/bin/pip install timm==1.0.31 --no-deps
    KERAS_BACKEND=torch /tmp/refs/bin/python tests/refs/generate_extra_refs.py
"""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import torch  # noqa: E402
import torch.optim.lr_scheduler as tsched  # noqa: E402


def _import_timm_scheduler():
    # `import timm` needs torchvision; the scheduler modules need only torch.
    import importlib.util

    root = Path(importlib.util.find_spec("timm").submodule_search_locations[0])
    for name, path in (("timm", root), ("timm.scheduler", root / "scheduler")):
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
    import timm.scheduler.cosine_lr as cosine
    import timm.scheduler.multistep_lr as multistep
    import timm.scheduler.plateau_lr as plateau
    import timm.scheduler.poly_lr as poly
    import timm.scheduler.step_lr as step
    import timm.scheduler.tanh_lr as tanh

    return {
        "CosineLRScheduler": cosine.CosineLRScheduler,
        "TanhLRScheduler": tanh.TanhLRScheduler,
        "PolyLRScheduler": poly.PolyLRScheduler,
        "StepLRScheduler": step.StepLRScheduler,
        "MultiStepLRScheduler": multistep.MultiStepLRScheduler,
        "PlateauLRScheduler": plateau.PlateauLRScheduler,
    }


TIMM = _import_timm_scheduler()
keras.config.set_floatx("float64")
torch.set_default_dtype(torch.float64)
N = 300


def _optimizer(spec, base_lr):
    p = torch.zeros(1, requires_grad=True)
    if spec.get("type") == "adam":
        return torch.optim.Adam([p], lr=base_lr)
    return torch.optim.SGD([p], lr=base_lr, momentum=spec.get("momentum", 0.0))


def _torch_scheduler(opt, name, params):
    params = dict(params)
    if "lr_lambda" in params:
        params["lr_lambda"] = eval(params["lr_lambda"])
    if "schedulers" in params:
        params["schedulers"] = [
            _torch_scheduler(opt, p["type"], {k: v for k, v in p.items() if k != "type"})
            for p in params["schedulers"]
        ]
    if name == "ChainedScheduler":
        return tsched.ChainedScheduler(**params)
    return getattr(tsched, name)(opt, **params)


def torch_case(name, scheduler, base_lr, params, n=N, optimizer=None, note=None):
    optimizer = optimizer or {"type": "sgd"}
    opt = _optimizer(optimizer, base_lr)
    sched = _torch_scheduler(opt, scheduler, params)
    lrs, momentums = [], []
    group = opt.param_groups[0]
    for _ in range(n):
        lrs.append(float(group["lr"]))
        momentums.append(float(group["betas"][0] if "betas" in group else group["momentum"]))
        opt.step()
        sched.step()
    case = {
        "name": name,
        "library": "torch",
        "kind": "schedule",
        "scheduler": f"torch.optim.lr_scheduler.{scheduler}",
        "base_lr": base_lr,
        "optimizer": optimizer,
        "params": params,
        "n": n,
        "lrs": lrs,
    }
    if scheduler in ("CyclicLR", "OneCycleLR") and params.get("cycle_momentum", True):
        case["momentums"] = momentums
    if note:
        case["note"] = note
    return case


def keras_case(name, scheduler, params, n=N, note=None, ambiguous=None):
    s = getattr(keras.optimizers.schedules, scheduler)(**params)
    case = {
        "name": name,
        "library": "keras",
        "kind": "schedule",
        "scheduler": f"keras.optimizers.schedules.{scheduler}",
        "params": params,
        "n": n,
        "lrs": [float(s(k)) for k in range(n)],
    }
    if ambiguous is not None:
        case["ambiguous_steps"] = ambiguous
    if note:
        case["note"] = note
    return case


def timm_case(name, scheduler, base_lr, params, n=N, note=None, ambiguous=None):
    opt = _optimizer({"type": "sgd"}, base_lr)
    sched = TIMM[scheduler](opt, t_in_epochs=True, **params)
    initial = float(opt.param_groups[0]["lr"])
    lrs, clean, noise = [], [], []
    for k in range(n):
        sched.step(k)
        lrs.append(float(opt.param_groups[0]["lr"]))
        clean.append(float(sched._get_lr(k)[0]))
        noise.append(lrs[-1] / clean[-1] - 1 if clean[-1] else 0.0)
    case = {
        "name": name,
        "library": "timm",
        "kind": "schedule",
        "scheduler": f"timm.scheduler.{scheduler}",
        "base_lr": base_lr,
        "params": params,
        "n": n,
        "initial_group_lr": initial,
        "lrs": lrs,
    }
    if params.get("noise_range_t") is not None:
        case["lrs_clean"], case["noise"] = clean, noise
    if ambiguous is not None:
        case["ambiguous_steps"] = ambiguous
    if note:
        case["note"] = note
    return case


def geometric_boundaries(first, mult, n):
    """Exact restart steps first * (mult**i - 1) / (mult - 1) below n."""
    out, start, length = [], 0, first
    while start < n:
        out.append(start)
        start, length = start + length, length * mult
    return [int(b) for b in out if float(b).is_integer() and 0 < b < n]


CASES = [
    torch_case(
        "x_torch_sequential_multiplicative",
        "SequentialLR",
        0.1,
        {
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.2, "total_iters": 10},
                {"type": "MultiplicativeLR", "lr_lambda": "lambda e: 0.95 if e % 3 else 0.9"},
            ],
            "milestones": [15],
        },
        note="MultiplicativeLR continues from the current lr, times lr_lambda(0).",
    ),
    torch_case(
        "x_torch_sequential_three",
        "SequentialLR",
        0.05,
        {
            "schedulers": [
                {"type": "ConstantLR", "factor": 0.1, "total_iters": 7},
                {"type": "ExponentialLR", "gamma": 0.97},
                {"type": "CosineAnnealingLR", "T_max": 60, "eta_min": 0.001},
            ],
            "milestones": [20, 90],
        },
    ),
    torch_case(
        "x_torch_sequential_cyclic",
        "SequentialLR",
        0.1,
        {
            "schedulers": [
                {"type": "StepLR", "step_size": 10, "gamma": 0.5},
                {
                    "type": "CyclicLR",
                    "base_lr": 0.01,
                    "max_lr": 0.05,
                    "step_size_up": 13,
                    "cycle_momentum": False,
                },
            ],
            "milestones": [40],
        },
        optimizer={"type": "sgd", "momentum": 0.9},
    ),
    torch_case(
        "x_torch_chained_cosine_eta",
        "ChainedScheduler",
        0.1,
        {
            "schedulers": [
                {"type": "CosineAnnealingLR", "T_max": 40, "eta_min": 0.01},
                {"type": "ExponentialLR", "gamma": 0.99},
            ],
        },
        note="CosineAnnealingLR with eta_min != 0 is affine in the current lr.",
    ),
    torch_case(
        "x_torch_chained_exp_then_cosine",
        "ChainedScheduler",
        0.1,
        {
            "schedulers": [
                {"type": "StepLR", "step_size": 25, "gamma": 0.7},
                {"type": "CosineAnnealingLR", "T_max": 30, "eta_min": 0.002},
            ],
        },
    ),
    torch_case(
        "x_torch_chained_lambda_exp",
        "ChainedScheduler",
        0.1,
        {
            "schedulers": [
                {"type": "LambdaLR", "lr_lambda": "lambda e: 1.0 / (1 + 0.05 * e)"},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        note="LambdaLR overwrites the lr every step; ExponentialLR multiplies once after it.",
    ),
    torch_case(
        "x_torch_chained_mult_linear_poly",
        "ChainedScheduler",
        0.2,
        {
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.25, "total_iters": 20},
                {"type": "MultiStepLR", "milestones": [0, 50, 50, 120], "gamma": 0.6},
                {"type": "PolynomialLR", "total_iters": 250, "power": 1.5},
                {"type": "MultiplicativeLR", "lr_lambda": "lambda e: 0.999"},
            ],
        },
    ),
    torch_case(
        "x_torch_onecycle_linear_3phase",
        "OneCycleLR",
        0.1,
        {
            "max_lr": 0.3,
            "total_steps": 257,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "three_phase": True,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        n=257,
        optimizer={"type": "sgd", "momentum": 0.9},
    ),
    torch_case(
        "x_torch_onecycle_fractional_peak",
        "OneCycleLR",
        0.1,
        {
            "max_lr": 0.1,
            "epochs": 7,
            "steps_per_epoch": 43,
            "pct_start": 0.333,
        },
        n=301,
        optimizer={"type": "adam"},
    ),
    torch_case(
        "x_torch_onecycle_cos_3phase",
        "OneCycleLR",
        0.1,
        {
            "max_lr": 0.05,
            "total_steps": 300,
            "pct_start": 0.4,
            "three_phase": True,
            "base_momentum": 0.8,
            "max_momentum": 0.99,
        },
        optimizer={"type": "sgd", "momentum": 0.9},
    ),
    torch_case(
        "x_torch_cyclic_exp_range",
        "CyclicLR",
        0.1,
        {
            "base_lr": 0.002,
            "max_lr": 0.08,
            "step_size_up": 17,
            "step_size_down": 29,
            "mode": "exp_range",
            "gamma": 0.995,
        },
        optimizer={"type": "sgd", "momentum": 0.5},
    ),
    torch_case(
        "x_torch_cyclic_triangular2_adam",
        "CyclicLR",
        0.1,
        {
            "base_lr": 0.0001,
            "max_lr": 0.003,
            "step_size_up": 11,
            "mode": "triangular2",
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
        optimizer={"type": "adam"},
    ),
    torch_case(
        "x_torch_warm_restarts_tmult3",
        "CosineAnnealingWarmRestarts",
        0.1,
        {"T_0": 7, "T_mult": 3, "eta_min": 0.005},
    ),
    torch_case(
        "x_torch_warm_restarts_tmult1",
        "CosineAnnealingWarmRestarts",
        0.3,
        {"T_0": 13, "eta_min": 0.0},
    ),
    torch_case("x_torch_cosine_eta0_periodic", "CosineAnnealingLR", 0.1, {"T_max": 37}),
    torch_case("x_torch_constant_default", "ConstantLR", 0.1, {}),
    torch_case(
        "x_torch_linear_decay",
        "LinearLR",
        0.1,
        {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 120},
    ),
    torch_case(
        "x_torch_multistep_zero",
        "MultiStepLR",
        0.1,
        {"milestones": [0, 30, 30, 30, 200], "gamma": 0.8},
    ),
    torch_case("x_torch_polynomial_default", "PolynomialLR", 0.1, {}),
    torch_case("x_torch_step_big", "StepLR", 0.1, {"step_size": 1, "gamma": 0.98}),
    torch_case(
        "x_torch_lambda_inv_sqrt",
        "LambdaLR",
        1.0,
        {"lr_lambda": "lambda e: min((e + 1) / 20, (20 / (e + 1)) ** 0.5)"},
    ),
    keras_case(
        "x_keras_polynomial_cycle",
        "PolynomialDecay",
        {
            "initial_learning_rate": 0.1,
            "decay_steps": 60,
            "end_learning_rate": 0.001,
            "power": 1.0,
            "cycle": True,
        },
        note="cycle=True stretches the horizon to ceil(k/D)*D; no restart to init.",
    ),
    keras_case(
        "x_keras_polynomial_default_end",
        "PolynomialDecay",
        {"initial_learning_rate": 0.05, "decay_steps": 150, "power": 0.5},
    ),
    keras_case(
        "x_keras_inverse_time_staircase",
        "InverseTimeDecay",
        {
            "initial_learning_rate": 0.1,
            "decay_steps": 7,
            "decay_rate": 0.3,
            "staircase": True,
        },
    ),
    keras_case(
        "x_keras_exponential_smooth",
        "ExponentialDecay",
        {"initial_learning_rate": 0.2, "decay_steps": 33, "decay_rate": 0.9},
    ),
    keras_case(
        "x_keras_cosine_warmup_ignored",
        "CosineDecay",
        {
            "initial_learning_rate": 0.1,
            "decay_steps": 100,
            "alpha": 0.2,
            "warmup_steps": 50,
        },
        note="warmup_steps is ignored without warmup_target.",
    ),
    keras_case(
        "x_keras_cosine_restarts_tmul1",
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 30,
            "t_mul": 1.0,
            "m_mul": 0.9,
            "alpha": 0.1,
        },
    ),
    keras_case(
        "x_keras_cosine_restarts_tmul2_boundaries",
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 11,
            "t_mul": 2.0,
            "m_mul": 0.7,
        },
        ambiguous=geometric_boundaries(11, 2, N),
    ),
    keras_case(
        "x_keras_cosine_restarts_tmul1_5",
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 16,
            "t_mul": 1.5,
            "alpha": 0.01,
        },
        ambiguous=geometric_boundaries(16, 1.5, N),
    ),
    keras_case(
        "x_keras_piecewise_float",
        "PiecewiseConstantDecay",
        {"boundaries": [0, 99, 100], "values": [1.0, 0.5, 0.25, 0.125]},
    ),
    timm_case(
        "x_timm_cosine_cycle_mul",
        "CosineLRScheduler",
        0.1,
        {
            "t_initial": 20,
            "lr_min": 0.001,
            "cycle_mul": 2.0,
            "cycle_decay": 0.8,
            "cycle_limit": 4,
        },
        ambiguous=geometric_boundaries(20, 2, N),
    ),
    timm_case(
        "x_timm_cosine_prefix_kdecay",
        "CosineLRScheduler",
        0.1,
        {
            "t_initial": 120,
            "lr_min": 1e-4,
            "warmup_t": 15,
            "warmup_lr_init": 1e-4,
            "warmup_prefix": True,
            "k_decay": 0.5,
            "cycle_limit": 2,
            "cycle_decay": 0.5,
        },
    ),
    timm_case(
        "x_timm_cosine_mul_1_5",
        "CosineLRScheduler",
        0.05,
        {
            "t_initial": 24,
            "cycle_mul": 1.5,
            "cycle_limit": 10,
        },
        ambiguous=geometric_boundaries(24, 1.5, N),
    ),
    timm_case(
        "x_timm_tanh_prefix",
        "TanhLRScheduler",
        0.1,
        {
            "t_initial": 100,
            "lr_min": 0.001,
            "warmup_t": 8,
            "warmup_lr_init": 0.0,
            "warmup_prefix": True,
            "cycle_limit": 3,
            "cycle_decay": 0.7,
        },
        note="With warmup_prefix the tanh warmup ramps to base_lr.",
    ),
    timm_case("x_timm_tanh_plain", "TanhLRScheduler", 0.1, {"t_initial": 250}),
    timm_case(
        "x_timm_poly_cycles",
        "PolyLRScheduler",
        0.1,
        {
            "t_initial": 70,
            "power": 2.0,
            "lr_min": 0.0005,
            "cycle_limit": 3,
            "cycle_decay": 0.6,
        },
    ),
    timm_case(
        "x_timm_step_float_decay_t",
        "StepLRScheduler",
        0.1,
        {
            "decay_t": 12.5,
            "decay_rate": 0.7,
            "warmup_t": 4,
            "warmup_lr_init": 0.001,
            "warmup_prefix": False,
        },
    ),
    timm_case("x_timm_step_default_rate", "StepLRScheduler", 0.1, {"decay_t": 30}),
    timm_case(
        "x_timm_multistep_noprefix",
        "MultiStepLRScheduler",
        0.1,
        {
            "decay_t": [1, 40, 40, 160],
            "decay_rate": 0.5,
            "warmup_t": 6,
            "warmup_lr_init": 0.0,
            "warmup_prefix": False,
        },
    ),
    timm_case(
        "x_timm_cosine_noise_uniform_range",
        "CosineLRScheduler",
        0.1,
        {
            "t_initial": 300,
            "warmup_t": 20,
            "warmup_lr_init": 1e-3,
            "noise_range_t": 120,
            "noise_pct": 0.3,
            "noise_std": 2.0,
            "noise_seed": 7,
        },
    ),
]


if __name__ == "__main__":
    out = Path(__file__).with_name("extra_refs.json")
    versions = {"torch": torch.__version__, "keras": keras.__version__, "timm": "1.0.31"}
    out.write_text(json.dumps({"versions": versions, "cases": CASES}, indent=1))
    print(f"wrote {len(CASES)} cases to {out}")
