"""Record timm's own rates for the scenarios of timm's ``tests/test_scheduler.py``.

Not part of the test suite (lrjax never depends on timm). For every scenario that
``tests/peers/test_suite_timm_scheduler.py`` ports, it builds the timm scheduler on a
one-parameter SGD optimizer exactly as the peer test does, makes the same ``step`` /
``step_update`` calls, and writes the rate timm leaves in the param group after
construction (``initial``) and after each call (``lrs``) to ``tests/refs/timm_suite.json``.
To regenerate, in a throwaway environment (``import timm`` itself needs torchvision, so
only the scheduler modules are imported, under a stub package):

    python3 -m venv /tmp/timmenv && /tmp/timmenv/bin/pip install timm==1.0.31 --no-deps
    PYTHONPATH=/tmp/timmenv/lib/python3.11/site-packages \\
        .venv/bin/python tests/refs/generate_timm_suite.py   # any Python with torch 2.13
"""

from __future__ import annotations

import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_extra_refs import _import_timm_scheduler  # noqa: E402  (one timm loader)

TIMM = _import_timm_scheduler()

# The peer's parametrizations (timm tests/test_scheduler.py).
BASIC = {
    "CosineLRScheduler": {"t_initial": 100},
    "StepLRScheduler": {"decay_t": 10},
    "MultiStepLRScheduler": {"decay_t": [10, 20, 30]},
    "PolyLRScheduler": {"t_initial": 100},
    "TanhLRScheduler": {"t_initial": 100},
}
DECAYING = dict(
    BASIC,
    StepLRScheduler={"decay_t": 10, "decay_rate": 0.5},
    MultiStepLRScheduler={"decay_t": [10, 20, 30], "decay_rate": 0.5},
)
NOISY = {k: v for k, v in BASIC.items() if k != "MultiStepLRScheduler"}


def record(name, kwargs, steps, base_lr=0.1, update=False, metric=None):
    """timm's group rate after construction and after each step(t) (step_update(t))."""
    p = torch.nn.Parameter(torch.zeros(10, 5))
    opt = torch.optim.SGD([{"params": [p], "lr": base_lr}], lr=base_lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PlateauLRScheduler is deprecated
        sched = TIMM[name](opt, **kwargs)
    initial = opt.param_groups[0]["lr"]
    lrs = []
    for t in steps:
        if update:
            sched.step_update(t)
        elif metric is not None:
            sched.step(t, metric=metric)
        else:
            sched.step(t)
        lrs.append(opt.param_groups[0]["lr"])
    return {"scheduler": name, "kwargs": kwargs, "base_lr": base_lr, "steps": list(steps),
            "initial": initial, "lrs": lrs}  # fmt: skip


def cases():
    out = {}
    for name, kw in {**BASIC, "PlateauLRScheduler": {}}.items():
        out[f"scheduler_init[{name}]"] = record(name, kw, [])
    for name, kw in BASIC.items():
        out[f"scheduler_step[{name}]"] = record(name, kw, range(10))
    plateau = {"patience_t": 2, "decay_rate": 0.5}
    # The peer's calls (epochs 0..9), and the same metrics from epoch 1 on.
    out["plateau_scheduler_step"] = record("PlateauLRScheduler", plateau, range(10), metric=1.0)
    out["plateau_scheduler_step[from_1]"] = record(
        "PlateauLRScheduler", plateau, range(1, 11), metric=1.0
    )
    warm = {"warmup_t": 5, "warmup_lr_init": 0.001}
    for name, kw in BASIC.items():
        out[f"warmup_lr_increases[{name}]"] = record(name, {**warm, **kw}, range(1, 5))
    for name, kw in DECAYING.items():
        out[f"warmup_prefix_reaches_target_lr[{name}]"] = record(
            name, {**warm, "warmup_prefix": True, **kw}, range(6)
        )
    out["cosine_decay"] = record(
        "CosineLRScheduler", {"t_initial": 100, "lr_min": 0.001}, [50, 100]
    )
    out["cosine_cycles"] = record(
        "CosineLRScheduler",
        {"t_initial": 50, "lr_min": 0.001, "cycle_limit": 2},
        [49, *range(100, 110)],
    )
    out["step_decay"] = record("StepLRScheduler", {"decay_t": 10, "decay_rate": 0.5}, [9, 10, 20])
    out["multistep_decay"] = record(
        "MultiStepLRScheduler", {"decay_t": [10, 20, 30], "decay_rate": 0.5}, [8, 11, 21, 31]
    )
    out["poly_decay"] = record(
        "PolyLRScheduler", {"t_initial": 100, "lr_min": 0.001, "power": 1.0}, [100]
    )
    out["tanh_decay"] = record(
        "TanhLRScheduler", {"t_initial": 100, "lr_min": 0.001}, range(1, 101)
    )
    for name, kw in DECAYING.items():
        out[f"step_update_with_t_in_epochs_false[{name}]"] = record(
            name, {"t_in_epochs": False, **kw}, range(50), update=True
        )
    for name, kw in BASIC.items():
        out[f"multiple_param_groups[{name}]"] = record(name, kw, range(20))
    for name, kw in NOISY.items():
        noisy = {"noise_range_t": [10, 50], "noise_pct": 0.5, "noise_seed": 42, **kw}
        out[f"noise_range[{name}]"] = record(name, noisy, range(60))
        out[f"noise_range[{name}][clean]"] = record(name, kw, range(60))
    for name in ("CosineLRScheduler", "PolyLRScheduler"):
        for k in (1.0, 2.0):
            out[f"k_decay[{name}][{k}]"] = record(
                name, {"t_initial": 100, "k_decay": k}, range(100)
            )
    return out


def main():
    data = {
        "source": "timm tests/test_scheduler.py scenarios, run on timm "
        f"{version('timm')} with torch {torch.__version__}",
        "cases": cases(),
    }
    path = Path(__file__).with_name("timm_suite.json")
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {len(data['cases'])} cases to {path}")


if __name__ == "__main__":
    main()
