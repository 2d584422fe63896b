"""Run PyTorch once for the values of the ported ``test/optim/test_lrscheduler.py`` that are
not Python literals in the peer file; writes ``tests/refs/torch_lrscheduler_suite.json``.

Used by ``tests/peers/test_suite_torch_lrscheduler.py``. Not part of the test suite (lrjax
never depends on torch). To regenerate:

    python -m venv /tmp/refs && /tmp/refs/bin/pip install torch==2.13.0
    /tmp/refs/bin/python tests/refs/generate_torch_lrscheduler_suite.py

Contents:

- ``closed_form``: for each peer ``test_closed_form_*`` scheduler, built on the peer's
  two-group optimizer (lr 0.05, and a tensor lr 0.5), ``recursive[k]`` is every group's
  rate after ``k`` plain ``sched.step()`` calls (k = 0..epochs) and ``closed[e]`` the rate
  after ``sched.step(e)`` (torch's closed form) for e = 0..epochs-1. The peer's own helper
  compares two optimizers that no scheduler drives (its ``setUp()`` replaces ``self.opt``),
  so these are the values its two schedulers actually produce.
- ``cosine_then_cyclic``: the final rate of the peer's ``test_cosine_then_cyclic`` loop.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch.optim import SGD
from torch.optim import lr_scheduler as tsched

EPOCHS = 20


def _optimizer():
    # The peer's setUp(): two param groups, the second with a tensor learning rate.
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1), torch.nn.Conv2d(1, 1, 1))
    groups = [
        {"params": net[0].parameters()},
        {"params": net[1].parameters(), "lr": torch.tensor(0.5)},
    ]
    return SGD(groups, lr=0.05)


def _lrs(opt):
    return [float(group["lr"]) for group in opt.param_groups]


# The peer's test_closed_form_* schedulers (name -> (class, kwargs, epochs)).
CLOSED_FORM = {
    "step_lr": (tsched.StepLR, {"gamma": 0.1, "step_size": 3}, EPOCHS),
    "linearlr": (
        tsched.LinearLR,
        {"start_factor": 1.0 / 3, "end_factor": 0.7, "total_iters": 4},
        EPOCHS,
    ),
    "constantlr": (tsched.ConstantLR, {"factor": 1.0 / 3, "total_iters": 4}, EPOCHS),
    "multi_step_lr": (tsched.MultiStepLR, {"gamma": 0.1, "milestones": [2, 5, 9]}, EPOCHS),
    "exp_lr": (tsched.ExponentialLR, {"gamma": 0.9}, EPOCHS),
    "poly_lr": (tsched.PolynomialLR, {"power": 0.9}, EPOCHS),
    "cos_anneal_lr": (tsched.CosineAnnealingLR, {"T_max": 5, "eta_min": 1e-10}, EPOCHS),
}


def closed_form_case(cls, kwargs, epochs):
    opt = _optimizer()
    sched = cls(opt, **kwargs)
    recursive = [_lrs(opt)]
    for _ in range(epochs):
        opt.step()
        sched.step()
        recursive.append(_lrs(opt))
    opt = _optimizer()
    sched = cls(opt, **kwargs)
    closed = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated, and still supported
        for epoch in range(epochs):
            opt.step()
            sched.step(epoch)
            closed.append(_lrs(opt))
    return {"params": kwargs, "recursive": recursive, "closed": closed}


def cosine_then_cyclic():
    # The peer's loop, verbatim in substance.
    model = torch.nn.Linear(2, 1)
    optimizer = SGD(model.parameters(), lr=0.5)
    first = tsched.CosineAnnealingLR(optimizer, T_max=20, eta_min=0.1)
    second = tsched.CyclicLR(optimizer, base_lr=0.1, max_lr=0.3, step_size_up=1, step_size_down=3)
    for i in range(40):
        optimizer.step()
        if i <= first.T_max:
            first.step()
        else:
            second.step()
    return {"last_lr": float(optimizer.param_groups[0]["lr"])}


if __name__ == "__main__":
    out = Path(__file__).with_name("torch_lrscheduler_suite.json")
    data = {
        "versions": {"torch": torch.__version__, "torch_git": torch.version.git_version},
        "closed_form": {name: closed_form_case(*spec) for name, spec in CLOSED_FORM.items()},
        "cosine_then_cyclic": cosine_then_cyclic(),
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out}")
