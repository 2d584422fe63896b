"""Load the peer reference cases and build the lrjax equivalent of each.

Reference files, in order: ``$LRJAX_PEER_REFS`` (a path, if set), the project's shared
``../shared/refs/peer_refs.json`` when this checkout sits beside it, else the copy vendored
in ``tests/refs/peer_refs.json``; plus ``extra_refs.json`` (schedules),
``optimizer_refs.json``, ``plateau_refs.json`` and ``sparse_swa_refs.json`` in
``tests/refs``, generated from the peer libraries by the ``generate_*.py`` scripts beside
them. Cases are keyed by name, so a
fuller shared file simply adds cases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import lrjax.compat

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "refs" / "peer_refs.json"


def reference_files() -> list[Path]:
    env = os.environ.get("LRJAX_PEER_REFS")
    primary = Path(env) if env else SHARED if SHARED.exists() else HERE / "refs" / "peer_refs.json"
    extra = (
        "extra_refs.json",
        "optimizer_refs.json",
        "plateau_refs.json",
        "sparse_swa_refs.json",
        "factored_refs.json",
    )
    return [primary, *(HERE / "refs" / name for name in extra)]


def problem() -> dict:
    """The shared optimizer test problem (p0, A, b, cubic_coef)."""
    return json.loads(reference_files()[0].read_text())["problem"]


def load_cases(*kinds: str) -> list[dict]:
    cases: dict[str, dict] = {}
    for path in reference_files():
        for case in json.loads(path.read_text())["cases"]:
            if case["kind"] in kinds:
                cases.setdefault(case["name"], case)
    return list(cases.values())


def host_function(source: str):
    """A jax-callable version of a Python lambda given as source text (``lr_lambda``).

    The reference lambdas use Python branching on the step, so they run on the host
    through `jax.pure_callback`, in float64, exactly as torch calls them.
    """
    fn = eval(source)

    def call(k):
        def on_host(steps):
            return np.vectorize(lambda s: float(fn(int(s))), otypes=[np.float64])(steps)

        out = jax.ShapeDtypeStruct(jnp.shape(k), jnp.float64)
        return jax.pure_callback(on_host, out, k, vmap_method="expand_dims")

    return call


def build_schedule(library: str, scheduler: str, base_lr, params: dict):
    """The lrjax.compat schedule for a reference case (scheduler is the class name)."""
    params = dict(params)
    if "lr_lambda" in params:
        params["lr_lambda"] = host_function(params["lr_lambda"])
    if "schedulers" in params:
        params["schedulers"] = [
            build_schedule(library, p["type"], base_lr, {k: v for k, v in p.items() if k != "type"})
            for p in params["schedulers"]
        ]
    ctor = getattr(getattr(lrjax.compat, library), scheduler)
    if library == "keras" or "base_lr" in params:
        return ctor(**params)
    return ctor(base_lr, **params)


def case_schedule(case: dict):
    return build_schedule(
        case["library"], case["scheduler"].rsplit(".", 1)[-1], case.get("base_lr"), case["params"]
    )


def case_optimizer(case: dict):
    """The lrjax.compat.torch optimizer for an optimizer case, its scheduler included.

    Schedulers that cycle momentum drive SGD/RMSprop ``momentum`` or Adam-family
    ``betas[0]`` through ``.momentum``, as torch's scheduler does to the param group.
    """
    hyperparams = dict(case["hyperparams"])
    if "schedule" in case:
        params = dict(case["schedule"])
        scheduler = params.pop("scheduler").rsplit(".", 1)[-1]
        base_lr = case["defaults_filled"]["lr"]
        hyperparams["lr"] = schedule = build_schedule("torch", scheduler, base_lr, params)
        if "momentums" in case:
            if "betas" in case["defaults_filled"]:
                hyperparams["betas"] = (schedule.momentum, case["defaults_filled"]["betas"][1])
            else:
                hyperparams["momentum"] = schedule.momentum
    return getattr(lrjax.compat.torch, case["optimizer"].rsplit(".", 1)[-1])(**hyperparams)


def state_fields(state, field: str) -> list:
    """The values of every NamedTuple field called `field` inside an optimizer state
    (nested chains and wrappers included), skipping fields that hold None."""
    found = []

    def visit(x):
        if hasattr(x, "_fields"):
            if field in x._fields and getattr(x, field) is not None:
                found.append(getattr(x, field))
            for child in x:
                visit(child)
        elif isinstance(x, (tuple, list)):
            for child in x:
                visit(child)

    visit(state)
    return found
