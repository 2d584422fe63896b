"""PyTorch's optimizers as the third peer of the optimizer benchmark: the same update on
the same float32 buffers, in each of the implementations torch offers on this machine.

torch (the CPU wheel the test extra installs) is optional here: without it the benchmark
has no torch columns. Each form is one ``optimizer.step()`` on parameters whose ``.grad``
holds the benchmark's fixed gradients, so it does the work of lrjax's ``update`` plus
``apply_updates``. Forms: ``foreach`` (the multi-tensor kernels) and ``fused`` (one kernel
per dtype and device, which reads and writes each buffer once); a form torch refuses for an
optimizer on this device is left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

try:
    import torch
except ImportError:  # the benchmark runs without torch, and says so
    torch = None

# benchmark name -> (torch optimizer class name, keyword arguments): the hyperparameters of
# the lrjax side of each pair in benchmarks/optimizers.py (NAdam: torch's momentum schedule
# is lrjax's default, not the constant-momentum form the optax pair runs; same cost class)
OPTIMIZERS: dict[str, tuple[str, dict]] = {
    "sgd": ("SGD", {"lr": 1e-3}),
    "sgd_momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    "nesterov": ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"lr": 1e-2}),
    "rmsprop": ("RMSprop", {"lr": 1e-2}),
    "adadelta": ("Adadelta", {"lr": 1.0}),
    "adam": ("Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", {"lr": 1e-3, "weight_decay": 1e-2}),
    "nadam": ("NAdam", {"lr": 1e-3}),
    "radam": ("RAdam", {"lr": 1e-3}),
    "adamax": ("Adamax", {"lr": 1e-3}),
}
FORMS = ("foreach", "fused")


def available() -> bool:
    return torch is not None


def version() -> str | None:
    return None if torch is None else torch.__version__


class Runner:
    """One torch optimizer form over its own copy of the parameters, stepped in place."""

    def __init__(self, name: str, form: str, params: list[np.ndarray], grads: list[np.ndarray]):
        cls, kwargs = OPTIMIZERS[name]
        self.params = [torch.tensor(p) for p in params]
        for p, g in zip(self.params, grads, strict=True):
            p.grad = torch.tensor(g)
        self.optimizer = getattr(torch.optim, cls)(self.params, **kwargs, **{form: True})
        self.optimizer.step()  # refused forms raise here, not in the timed rounds

    def __call__(self, calls: int) -> float:
        """Seconds per step over ``calls`` consecutive steps."""
        t0 = time.perf_counter()
        with torch.no_grad():
            for _ in range(calls):
                self.optimizer.step()
        return (time.perf_counter() - t0) / calls


def runners(name: str, params: list[np.ndarray], grads: list[np.ndarray]) -> dict[str, Callable]:
    """The forms torch runs for `name` here, by form; empty without torch."""
    if torch is None or name not in OPTIMIZERS:
        return {}
    found = {}
    for form in FORMS:
        try:
            found[form] = Runner(name, form, params, grads)
        except (RuntimeError, ValueError, TypeError):
            continue  # e.g. no fused CPU kernel for this optimizer in this torch
    return found
