"""Load the learning-rate-free / online reference cases (shared/refs/lrfree_refs.json) and
run an optimizer on their problem (the same quadratic-plus-cubic problem as peer_refs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "refs" / "lrfree_refs.json"


def reference_file() -> Path:
    env = os.environ.get("LRJAX_LRFREE_REFS")
    return Path(env) if env else SHARED if SHARED.exists() else HERE / "refs" / "lrfree_refs.json"


_DATA = json.loads(reference_file().read_text())
PROBLEM = _DATA["problem"]


def load_cases(family: str) -> list[dict]:
    return [c for c in _DATA["cases"] if c.get("family") == family and "skipped" not in c]


def run(opt: optax.GradientTransformation, n: int, record=None):
    """Trajectory (n + 1 rows) of `opt` on the reference problem in float64, and a per-step
    record of ``record(state)`` after each update."""
    A, b, c = (jnp.asarray(PROBLEM[k], jnp.float64) for k in ("A", "b", "cubic_coef"))

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(A @ p - b + c * p * p * p, state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), (p, record(state) if record else 0.0)

    p0 = jnp.asarray(PROBLEM["p0"], jnp.float64)
    (_, _), (ps, rec) = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), length=n))(p0)
    return np.vstack([np.asarray(p0)[None], np.asarray(ps)]), np.asarray(rec)
