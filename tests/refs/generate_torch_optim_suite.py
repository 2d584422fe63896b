"""Generate ``tests/refs/torch_optim_suite.json`` for ``tests/peers/test_suite_torch_optim.py``.

Not part of the test suite (lrjax never depends on torch). It replays, with PyTorch itself,
the numeric tests of PyTorch's ``test/test_optim.py`` on the inputs of
``torch/testing/_internal/common_optimizers.py`` (imported from the installed torch, so the
configurations are torch's own), and records what the lrjax port compares against:

* ``configs``: every ``optim_inputs_func_*`` configuration of the nine optimizers lrjax
  mirrors (the CUDA-only ones too, with ``capturable`` dropped: it picks a kernel), each
  with the param group torch builds from it (all hyperparameters, defaults filled in) and
  the per-test results below;
* ``errors``: every ``optim_error_inputs_func_*`` entry that is a keyword-only construction;
* ``rosenbrock``: the dense half of ``test_rosenbrock_sparse`` for SGD and Adagrad.

Conventions: float64 (complex128) throughout, ``foreach=False`` (the single-tensor loop that
torch takes as ground truth), inputs drawn from ``numpy.random.default_rng`` with the seeds
below so the test can redraw them without torch. Where the peer checks two torch runs
against each other (complex vs its real view, tensor vs float lr), this script asserts that
torch passes and stores the reference run.

To regenerate, from the repository root, with torch 2.13.0 (CPU) and expecttest installed
(torch's test helpers import it):

    .venv/bin/python tests/refs/generate_torch_optim_suite.py
"""

from __future__ import annotations

import copy
import json
import platform
from pathlib import Path

import numpy as np
import torch
from torch.nn import Parameter
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.testing._internal import common_optimizers as co

torch.set_default_dtype(torch.float64)

OUT = Path(__file__).resolve().parent / "torch_optim_suite.json"
NAMES = ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "Adamax")
IMPL = ("foreach", "fused", "differentiable", "capturable")
SEEDS = {"forloop": 0, "complex": 1, "complex_2d": 2, "zero_grads": 3, "no_grad": 4}
FORLOOP_STEPS, TENSOR_LR_STEPS, COMPLEX_STEPS, COMPARE_STEPS, ROSENBROCK_STEPS = 20, 5, 3, 7, 1800

COMPLEX = (True, True, False)
INFOS = {info.name: info for info in co.optim_db if info.name in NAMES}


# ---------------------------------------------------------------- encoding


def enc(v):
    """JSON form of a kwarg value: tensors as {"tensor": values, "shape": shape}."""
    if isinstance(v, torch.Tensor):
        return {"tensor": v.detach().reshape(-1).tolist(), "shape": list(v.shape)}
    if isinstance(v, (tuple, list)):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    return v


def arr(t) -> list:
    return t.detach().tolist()


def group_of(opt) -> dict:
    """The hyperparameters torch resolved for the (single) param group."""
    return {
        k: enc(v)
        for k, v in opt.param_groups[0].items()
        if k not in ("params", "param_names", *IMPL)
    }


def make(cls, params, kwargs):
    kwargs = copy.deepcopy(kwargs)
    kwargs["foreach"] = False
    return cls(params, **kwargs)


# ---------------------------------------------------------------- the problems


def forloop_problem():
    rng = np.random.default_rng(SEEDS["forloop"])
    w, b, x = rng.standard_normal((10, 5)), rng.standard_normal(10), rng.standard_normal(5)
    return torch.tensor(w), torch.tensor(b), torch.tensor(x)


def describe_scheduler(s) -> dict:
    """The constructor arguments of one of the schedulers OptimizerInfo uses."""
    name = type(s).__name__
    if isinstance(s, ReduceLROnPlateau):
        keys = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "eps")
        spec = {k: getattr(s, k) for k in keys}
        spec["min_lr"] = s.min_lrs[0]
        return {"type": name, "kwargs": spec}
    keys = {
        "StepLR": ("step_size", "gamma"),
        "ExponentialLR": ("gamma",),
        "LinearLR": ("start_factor", "end_factor", "total_iters"),
        "ConstantLR": ("factor", "total_iters"),
        "PolynomialLR": ("total_iters", "power"),
    }[name]
    return {"type": name, "kwargs": {k: getattr(s, k) for k in keys}}


def forloop(cls, kwargs, sched_ctors=()):
    """test_forloop_goes_right_direction: 20 steps on (W x + b)^2, then the schedulers."""
    w0, b0, x = forloop_problem()
    weight, bias = Parameter(w0.clone()), Parameter(b0.clone())
    opt = make(cls, [weight, bias], kwargs)
    scheds = [c(opt) for c in sched_ctors]

    def closure():
        opt.zero_grad()
        loss = (weight.mv(x) + bias).pow(2).sum()
        loss.backward()
        return loss

    initial = closure().item()
    for _ in range(FORLOOP_STEPS):
        loss = closure()
        opt.step()
        for s in scheds:
            s.step(loss.detach()) if isinstance(s, ReduceLROnPlateau) else s.step()
    out = {"initial_loss": initial, "final_loss": closure().item(), "bias": arr(bias)}
    if sched_ctors:
        out["schedulers"] = [describe_scheduler(s) for s in scheds]
    else:
        out["weight"] = arr(weight)
    return out


def tensor_lr(cls, kwargs):
    """test_tensor_lr: lr 1e-3 as a float and as 1-element tensors of 0, 1, 2 dims agree."""
    kwargs = {k: v for k, v in copy.deepcopy(kwargs).items() if k != "lr"}
    w0, b0, x = forloop_problem()
    runs = []
    for lr in (1e-3, *(torch.tensor(1e-3).reshape([1] * d) for d in (0, 1, 2))):
        weight, bias = Parameter(w0.clone()), Parameter(b0.clone())
        opt = make(cls, [weight, bias], {**kwargs, "lr": lr})
        for _ in range(TENSOR_LR_STEPS):
            opt.zero_grad()
            (weight.mv(x) + bias).pow(2).sum().backward()
            opt.step()
        runs.append((weight.detach().clone(), bias.detach().clone()))
    for w, b in runs[1:]:
        torch.testing.assert_close((w, b), runs[0])
    return {"weight": arr(runs[0][0]), "bias": arr(runs[0][1])}


def complex_inputs():
    """Params (10, 5) complex, (10,) complex, (10, 5) real and 3 steps of grads, as real views."""
    rng = np.random.default_rng(SEEDS["complex"])
    shapes = [(10, 5, 2), (10, 2), (10, 5)]  # real views of (10, 5) c, (10,) c; (10, 5) real
    params = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(COMPLEX_STEPS)]
    return params, grads


def test_complex(cls, kwargs):
    params0, grads = complex_inputs()
    real = [Parameter(torch.tensor(p)) for p in params0]
    # The last param is real, as in the peer: real and complex params mix in one optimizer.
    cplx = [
        Parameter(torch.view_as_complex(torch.tensor(p)) if c else torch.tensor(p))
        for p, c in zip(params0, COMPLEX, strict=True)
    ]
    opt_r, opt_c = make(cls, real, kwargs), make(cls, cplx, kwargs)
    for step in grads:
        for p, q, g in zip(real, cplx, step, strict=True):
            p.grad = torch.tensor(g)
            q.grad = torch.view_as_complex(torch.tensor(g)) if q.is_complex() else torch.tensor(g)
        opt_r.step()
        opt_c.step()
        as_real = [torch.view_as_real(q) if q.is_complex() else q for q in cplx]
        torch.testing.assert_close(as_real, real)
    return {"params": [arr(p) for p in real]}


def rosenbrock(t):
    x, y = t
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def drosenbrock(t):
    x, y = t
    return torch.stack((-400 * x * (y - x**2) - 2 * (1 - x), 200 * (y - x**2)))


def complex_2d(cls, kwargs):
    """test_complex_2d: |rosenbrock(a)| for complex a in C^2 against [re(a), im(a)]."""
    rng = np.random.default_rng(SEEDS["complex_2d"])
    z = rng.standard_normal(2) + 1j * rng.standard_normal(2)
    a1 = Parameter(torch.tensor(z))
    re, im = Parameter(torch.tensor(z.real)), Parameter(torch.tensor(z.imag))
    opt1, opt2 = make(cls, [a1], kwargs), make(cls, [re, im], kwargs)
    steps = []
    for _ in range(COMPLEX_STEPS):
        opt1.zero_grad()
        opt2.zero_grad()
        rosenbrock(a1).abs().backward()
        rosenbrock(torch.complex(re, im)).abs().backward()
        torch.testing.assert_close((a1.grad.real, a1.grad.imag), (re.grad, im.grad))
        opt1.step()
        opt2.step()
        torch.testing.assert_close((a1.real, a1.imag), (re, im))
        steps.append([arr(a1.real), arr(a1.imag)])
    return {"a0": [z.real.tolist(), z.imag.tolist()], "steps": steps}


def zero_grads(name, cls, kwargs):
    """test_step_is_noop_for_zero_grads (configs without weight decay)."""
    if kwargs.get("weight_decay", 0) != 0:
        return None
    kwargs = copy.deepcopy(kwargs)
    if name == "AdamW":  # the peer shrinks lr so that AdamW's default decay stays invisible
        kwargs["lr"] = torch.tensor(1e-5) if isinstance(kwargs.get("lr"), torch.Tensor) else 1e-5
    p0 = np.random.default_rng(SEEDS["zero_grads"]).standard_normal((5, 1))
    param = Parameter(torch.tensor(p0))
    opt = make(cls, [param], kwargs)
    param.grad = torch.zeros_like(param)
    opt.step()
    return {"group": group_of(opt), "param": arr(param)}


def no_grad(cls, kwargs):
    """test_step_is_noop_when_params_have_no_grad, then two steps with gradients."""
    rng = np.random.default_rng(SEEDS["no_grad"])
    p0 = [rng.standard_normal((2, 3)) for _ in range(2)]
    grads = [[rng.standard_normal((2, 3)) for _ in range(2)] for _ in range(2)]
    params = [Parameter(torch.tensor(p)) for p in p0]
    opt = make(cls, params, kwargs)
    opt.step(lambda: torch.tensor([1.0]))  # no param has a grad
    for p, q in zip(params, p0, strict=True):
        torch.testing.assert_close(p.detach(), torch.tensor(q), rtol=0, atol=0)
    # Adagrad builds its state at construction; no step count moves.
    assert all(float(opt.state[p].get("step", 0)) == 0 for p in params)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
    steps = [opt.state[p].get("step") for p in params]
    return {"params": [arr(p) for p in params], "steps": [float(s) for s in steps if s is not None]}


def compare_model(cls, kwargs):
    """The forloop run of _compare_between (test_foreach/fused_matches_forloop), float64."""
    torch.set_default_dtype(torch.float32)  # the peer builds the model in float32, then casts
    try:
        torch.manual_seed(1)
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
        )
    finally:
        torch.set_default_dtype(torch.float64)
    model.to(dtype=torch.float64)
    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).reshape(3, 2)
    # A scalar param whose grad zero_grad() clears before every step: it is never updated.
    empty = torch.zeros((), requires_grad=True)
    empty.grad = torch.rand_like(empty)
    params = [*model.parameters(), empty]
    initial = [arr(p) for p in params]
    opt = make(cls, params, kwargs)
    for i in range(COMPARE_STEPS):
        opt.zero_grad()
        if i == 3:
            model[2].requires_grad_(False)  # frozen for steps 3 and 4: its grads are None
        if i == 5:
            model[2].requires_grad_(True)
        if i != 2:  # step 2: no backward, every grad is None
            model(x).sum().backward()
        opt.step()
    steps = [opt.state[p].get("step") for p in params]
    return {
        "initial": initial,
        "final": [arr(p) for p in params],
        "steps": [None if s is None else float(s) for s in steps],
    }


# ---------------------------------------------------------------- configurations


def config_inputs(info):
    """CPU configs, then the CUDA-only ones with capturable dropped (deduplicated)."""
    out, seen = [], set()
    for device in ("cpu", "cuda"):
        for oi in info.optim_inputs_func(device=device):
            kwargs = {k: v for k, v in oi.kwargs.items() if k != "capturable"}
            key = json.dumps(enc(kwargs), sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append((oi.desc, device == "cuda", kwargs))
    return out


def run_config(name, info, desc, cuda_only, kwargs):
    cls = info.optim_cls
    probe = make(cls, [Parameter(torch.zeros(1))], kwargs)
    case = {
        "optimizer": name,
        "desc": desc,
        "cuda_only": cuda_only,
        "kwargs": enc(kwargs),
        "group": group_of(probe),
        "forloop": forloop(cls, kwargs),
        "forloop_lrsched": [forloop(cls, kwargs, ctors) for ctors in info.scheduler_inputs],
        "tensor_lr": {
            "group": group_of(make(cls, [Parameter(torch.zeros(1))], {**kwargs, "lr": 1e-3})),
            **tensor_lr(cls, kwargs),
        },
        "complex": test_complex(cls, kwargs),
        "complex_2d": complex_2d(cls, kwargs),
        "no_grad": no_grad(cls, kwargs),
        "compare": compare_model(cls, kwargs),
    }
    zg = zero_grads(name, cls, kwargs)
    if zg is not None:
        case["zero_grads"] = zg
    return case


def error_cases(name, info):
    """Keyword-only constructions of optim_error_inputs_func (params=None) on CPU."""
    out = []
    for ei in info.optim_error_inputs_func(device="cpu", dtype=torch.float64):
        oi = ei.optimizer_error_input
        entry = {
            "optimizer": name,
            "desc": oi.desc,
            "error_type": ei.error_type.__name__,
            "error_regex": ei.error_regex,
            "kwargs": None,
        }
        if oi.params is None and ei.error_on == co.OptimizerErrorEnum.CONSTRUCTION_ERROR:
            with_raises = torch.testing._internal.common_utils.TestCase()
            with with_raises.assertRaisesRegex(ei.error_type, ei.error_regex):
                info.optim_cls([Parameter(torch.zeros(1))], **oi.kwargs)
            entry["kwargs"] = enc(oi.kwargs)
        out.append(entry)
    return out


def rosenbrock_cases(name, info):
    """The dense optimizer of test_rosenbrock_sparse (cyclic coordinate descent, 1800 steps)."""
    all_inputs = co._get_optim_inputs_including_global_cliquey_kwargs(
        "cpu", torch.float64, info, skip=("differentiable", "fused")
    )
    updates, sched_ctors = info.metadata_for_sparse
    supported, seen = [], set()
    for oi in all_inputs:  # the peer's own filtering: drop the tuned keys, dedupe, set lr
        for k in updates:
            oi.kwargs.pop(k, None)
        key = tuple(sorted((k, repr(v)) for k, v in oi.kwargs.items()))
        if oi.kwargs and key not in seen:
            supported.append(oi)
            seen.add(key)
            if "lr" in updates:
                oi.kwargs["lr"] = updates["lr"]
    cases = []
    for oi in supported:
        for with_lrsched in (True, False):
            kwargs = dict(oi.kwargs)
            n_params = 2 if kwargs.pop("foreach", False) else 1
            params = [Parameter(torch.tensor([1.5, 1.5])) for _ in range(n_params)]
            opt = make(info.optim_cls, params, kwargs)
            scheds = [c(opt) for c in (sched_ctors if with_lrsched else [])]
            for i in range(ROSENBROCK_STEPS):
                w = i % 2
                opt.zero_grad()
                for p in params:
                    g = drosenbrock(p.detach())
                    p.grad = (
                        torch.stack([g[0], torch.zeros(())])
                        if w
                        else torch.stack([torch.zeros(()), g[1]])
                    )
                opt.step()
                for s in scheds:
                    if isinstance(s, ReduceLROnPlateau):
                        s.step(rosenbrock(params[0].detach()))
                    else:
                        s.step()
            cases.append(
                {
                    "optimizer": name,
                    "desc": oi.desc,
                    "with_lrsched": with_lrsched,
                    "n_params": n_params,
                    "kwargs": enc(kwargs),
                    "group": group_of(opt)
                    if not scheds
                    else group_of(make(info.optim_cls, [Parameter(torch.zeros(1))], kwargs)),
                    "schedulers": [describe_scheduler(s) for s in scheds],
                    "final": [arr(p) for p in params],
                }
            )
    return cases


def main():
    configs, errors, rosen, skipped = [], [], [], []
    for name in NAMES:
        info = INFOS[name]
        for desc, cuda_only, kwargs in config_inputs(info):
            try:
                configs.append(run_config(name, info, desc, cuda_only, kwargs))
            except Exception as e:  # a CUDA-only config torch cannot run on CPU
                if not cuda_only:
                    raise
                skipped.append(
                    {
                        "optimizer": name,
                        "desc": desc,
                        "kwargs": enc(kwargs),
                        "reason": f"{type(e).__name__}: {e}",
                    }
                )
        errors += error_cases(name, info)
        if info.supports_sparse:
            rosen += rosenbrock_cases(name, info)
    doc = {
        "source": "torch.testing._internal.common_optimizers and test/test_optim.py",
        "versions": {
            "torch": torch.__version__,
            "torch_git": torch.version.git_version,
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "seeds": SEEDS,
        "steps": {
            "forloop": FORLOOP_STEPS,
            "tensor_lr": TENSOR_LR_STEPS,
            "complex": COMPLEX_STEPS,
            "compare": COMPARE_STEPS,
            "rosenbrock": ROSENBROCK_STEPS,
        },
        "configs": configs,
        "skipped_configs": skipped,
        "errors": errors,
        "rosenbrock": rosen,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(
        f"{len(configs)} configs, {len(skipped)} skipped, {len(errors)} errors, "
        f"{len(rosen)} rosenbrock cases -> {OUT} ({OUT.stat().st_size} bytes)"
    )


if __name__ == "__main__":
    main()
