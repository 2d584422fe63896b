"""Generate the torch references of lazy (sparse) Adam and AdaGrad and of SWA by running
PyTorch itself: ``tests/refs/sparse_swa_refs.json``.

Not part of the test suite (lrjax never depends on torch). float64 throughout. Three kinds
of cases:

* ``"embedding"``: a 6 x 3 table ``E`` trained by ``torch.optim.SparseAdam`` or
  ``torch.optim.Adagrad`` on the sparse gradients of ``nn.functional.embedding(idx, E,
  sparse=True)``. Step k looks up the rows ``steps[k]["idx"]`` (repeats allowed: torch
  sums them when it coalesces) with targets ``steps[k]["targets"]`` and the loss
  ``0.5 * sum_j ||E[idx_j] - targets_j||^2``; row 0 is looked up at every step, rows 1-4
  at random, row 5 only at steps 3, 13, 23, ... (a rare row), and step 20 looks up
  nothing (an empty sparse gradient: torch's step count still advances).
  ``trajectory[k]`` is E after k updates (51 tables); ``final_state`` the tensor's state.
* ``"optimizer"`` / ``"optimizer_with_schedule"``: ``SparseAdam`` on the shared problem
  of ``shared/refs/peer_refs.json`` (p in R^7, g(p) = A p - b + c p^3, the gradient
  passed as ``g.to_sparse()``: every entry present), in the format of
  ``generate_optimizer_refs.py``, so that ``tests/test_peer_optimizers.py`` replays them.
* ``"swa"``: SGD (momentum 0.9) on the same problem, driven as torch's SWA example does:
  ``steps_per_epoch`` updates per epoch, then ``if epoch > swa_start:
  swa_model.update_parameters(model); ema_model.update_parameters(model);
  swa_scheduler.step()`` else ``scheduler.step()`` (a ``CosineAnnealingLR``). Recorded:
  the rate of every update (``lrs``), the params after each update (``trajectory``), and
  after each epoch the SWA average (``AveragedModel(model)``), the EMA average
  (``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``) and their
  ``n_averaged``.

To regenerate, from the repository root, with torch 2.13.0 installed (CPU):

    .venv/bin/python tests/refs/generate_sparse_swa_refs.py
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

# The shared problem and the JSON conversion of torch's state: the script's own folder is
# on sys.path when it runs.
from generate_optimizer_refs import CUBIC_COEF, P0, A, B, _jsonable
from torch import nn
from torch.optim import swa_utils

torch.set_default_dtype(torch.float64)

N_STEPS = 50
OUT = Path(__file__).resolve().parent / "sparse_swa_refs.json"


def grad(p):
    return torch.tensor(A) @ p - torch.tensor(B) + CUBIC_COEF * (p * p * p)


def _state(opt, p):
    return {k: _jsonable(v) for k, v in opt.state[p].items() if v is not None}


# ---------------------------------------------------------------------------------------
# Embedding tables with sparse gradients
# ---------------------------------------------------------------------------------------

ROWS, DIM = 6, 3
E0 = np.random.default_rng(0).normal(size=(ROWS, DIM)).round(3).tolist()


def lookups(n_steps=N_STEPS, seed=1):
    """Which rows each step looks up, and their targets (see the module docstring)."""
    rng = np.random.default_rng(seed)
    chance = [1.0, 0.6, 0.5, 0.4, 0.3]
    steps = []
    for k in range(n_steps):
        idx = [] if k == 20 else [r for r in range(5) if rng.random() < chance[r]]
        if k % 10 == 3:
            idx.append(5)
        if idx and rng.random() < 0.3:
            idx.append(int(rng.choice(idx)))  # a repeated row: torch sums its two gradients
        targets = rng.normal(size=(len(idx), DIM)).round(3).tolist()
        steps.append({"idx": idx, "targets": targets})
    return steps


def run_embedding(name, optimizer, hyperparams, steps):
    table = torch.tensor(E0, requires_grad=True)
    opt = getattr(torch.optim, optimizer)([table], **hyperparams)
    trajectory = [table.detach().tolist()]
    for step in steps:
        idx = torch.tensor(step["idx"], dtype=torch.long)
        targets = torch.tensor(step["targets"]).reshape(len(step["idx"]), DIM)
        rows = nn.functional.embedding(idx, table, sparse=True)
        loss = 0.5 * ((rows - targets) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        assert table.grad.is_sparse
        opt.step()
        trajectory.append(table.detach().tolist())
    return {
        "name": name,
        "library": "torch",
        "kind": "embedding",
        "optimizer": f"torch.optim.{optimizer}",
        "hyperparams": hyperparams,
        "n_steps": len(steps),
        "trajectory": trajectory,
        "final_state": _state(opt, table),
    }


# ---------------------------------------------------------------------------------------
# SparseAdam on the shared problem (test_peer_optimizers' protocol)
# ---------------------------------------------------------------------------------------


def run_protocol(name, hyperparams, schedule=None):
    p = torch.tensor(P0, requires_grad=True)
    kwargs = {k: tuple(v) if k == "betas" else v for k, v in hyperparams.items()}
    opt = torch.optim.SparseAdam([p], **kwargs)
    sched = None
    if schedule is not None:
        sched_kwargs = {k: v for k, v in schedule.items() if k != "scheduler"}
        cls = getattr(torch.optim.lr_scheduler, schedule["scheduler"].rsplit(".", 1)[-1])
        sched = cls(opt, **sched_kwargs)
    trajectory, lrs = [p.detach().tolist()], []
    for _ in range(N_STEPS):
        lrs.append(float(opt.param_groups[0]["lr"]))
        p.grad = grad(p.detach()).to_sparse()
        opt.step()
        if sched is not None:
            sched.step()
        trajectory.append(p.detach().tolist())
    case = {
        "name": name,
        "library": "torch",
        "kind": "optimizer" if schedule is None else "optimizer_with_schedule",
        "optimizer": "torch.optim.SparseAdam",
        "hyperparams": hyperparams,
        "defaults_filled": {k: _jsonable(v) for k, v in opt.defaults.items()},
        "n_steps": N_STEPS,
        "trajectory": trajectory,
        "final_state": _state(opt, p),
    }
    if schedule is not None:
        case["schedule"] = schedule
        case["lrs"] = lrs
    return case


# ---------------------------------------------------------------------------------------
# SWA: SWALR after a cosine phase, and the SWA and EMA averages
# ---------------------------------------------------------------------------------------


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(P0))


def run_swa(name, *, epochs, steps_per_epoch, swa_start, swa_lr, anneal_epochs, strategy, decay):
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    swa_model = swa_utils.AveragedModel(model)
    ema_model = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    swa_scheduler = swa_utils.SWALR(
        opt, swa_lr=swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy
    )
    lrs, trajectory = [], [model.p.detach().tolist()]
    swa, ema, n_averaged = [], [], []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            lrs.append(float(opt.param_groups[0]["lr"]))
            model.p.grad = grad(model.p.detach())
            opt.step()
            trajectory.append(model.p.detach().tolist())
        if epoch > swa_start:
            swa_model.update_parameters(model)
            ema_model.update_parameters(model)
            swa_scheduler.step()
        else:
            scheduler.step()
        swa.append(swa_model.module.p.detach().tolist())
        ema.append(ema_model.module.p.detach().tolist())
        n_averaged.append(int(swa_model.n_averaged))
    return {
        "name": name,
        "library": "torch",
        "kind": "swa",
        "optimizer": {"name": "torch.optim.SGD", "lr": 0.1, "momentum": 0.9},
        "scheduler": {"name": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": epochs},
        "swalr": {"swa_lr": swa_lr, "anneal_epochs": anneal_epochs, "anneal_strategy": strategy},
        "ema_decay": decay,
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "swa_start": swa_start,
        "lrs": lrs,
        "trajectory": trajectory,
        "swa_average": swa,
        "ema_average": ema,
        "n_averaged": n_averaged,
    }


def main():
    steps = lookups()
    cases = [
        run_embedding("sparse_adam_embedding", "SparseAdam", {"lr": 0.05}, steps),
        run_embedding(
            "sparse_adam_embedding_betas_maximize",
            "SparseAdam",
            {"lr": 0.02, "betas": (0.8, 0.95), "eps": 1e-6, "maximize": True},
            steps,
        ),
        run_embedding("adagrad_sparse_embedding", "Adagrad", {"lr": 0.1}, steps),
        run_embedding(
            "adagrad_sparse_embedding_lr_decay",
            "Adagrad",
            {"lr": 0.2, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6},
            steps,
        ),
        run_protocol("x_opt_sparseadam", {"lr": 0.05}),
        run_protocol(
            "x_opt_sparseadam_betas_maximize",
            {"lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6, "maximize": True},
        ),
        run_protocol(
            "x_opt_sparseadam_cosine",
            {"lr": 0.05},
            {"scheduler": "torch.optim.lr_scheduler.CosineAnnealingLR", "T_max": 30},
        ),
        run_swa(
            "swa_cos_every_step",
            epochs=N_STEPS,
            steps_per_epoch=1,
            swa_start=19,
            swa_lr=0.02,
            anneal_epochs=5,
            strategy="cos",
            decay=0.9,
        ),
        run_swa(
            "swa_linear_two_steps_per_epoch",
            epochs=25,
            steps_per_epoch=2,
            swa_start=9,
            swa_lr=0.03,
            anneal_epochs=8,
            strategy="linear",
            decay=0.8,
        ),
    ]
    for case in cases:
        if case["kind"] == "embedding":
            case["steps"] = steps
    out = {
        "note": (
            "Generated by tests/refs/generate_sparse_swa_refs.py with torch "
            f"{torch.__version__} (python {platform.python_version()}), float64; see its "
            "docstring for the protocols. Compare with rtol 1e-10."
        ),
        "cases": cases,
    }
    body = ",\n".join(json.dumps(c) for c in out["cases"])
    OUT.write_text(f'{{"note": {json.dumps(out["note"])},\n"cases": [\n{body}\n]}}\n')
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
