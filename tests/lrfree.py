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


def assert_vmap_matches_loop(build, field: str, values, base: dict, steps: int = 40):
    """A sweep over `field` (one vmapped, jitted run) equals single jitted runs, which
    compile once for all values, and the hyperparameter changes the result."""
    import chex

    A = jnp.diag(jnp.arange(1.0, 5.0))

    def final(v):
        opt = build(**{**base, field: v})

        def step(carry, _):
            p, s = carry
            u, s = opt.update(A @ p - 1.0, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(step, (jnp.ones(4), opt.init(jnp.ones(4))), length=steps)
        return p

    single = jax.jit(chex.assert_max_traces(final, n=1))
    batched = jax.jit(jax.vmap(final))(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_allclose(batched[i], single(jnp.asarray(v)), rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], batched[-1])
