"""Replay every torch.optim case (optimizers alone and driven by a scheduler).

Protocol (shared/refs/peer_refs.json): p in R^7 from ``p0``, g(p) = A p - b + c p³, and
``trajectory[k]`` is p after k updates of torch's single-tensor implementation in float64.
lrjax.compat.torch must give the same trajectory to rtol 1e-10, atol 1e-12, and the same
optimizer state where the state has a torch counterpart.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from peer_cases import case_optimizer, load_cases, problem, state_fields

import lrjax

CASES = load_cases("optimizer", "optimizer_with_schedule")
PROBLEM = problem()


def _gradient(dtype):
    A, b, c = (jnp.asarray(PROBLEM[k], dtype) for k in ("A", "b", "cubic_coef"))
    return lambda p: A @ p - b + c * p * p * p


def _run(opt, dtype, n):
    grad = _gradient(dtype)

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(grad(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), (p, lrjax.applied_lr(state))

    p0 = jnp.asarray(PROBLEM["p0"], dtype)
    (_, state), (ps, lrs) = jax.jit(lambda p: jax.lax.scan(step, (p, opt.init(p)), length=n))(p0)
    return np.vstack([np.asarray(p0)[None], np.asarray(ps)]), np.asarray(lrs), state


def test_every_optimizer_is_covered():
    names = {c["optimizer"].rsplit(".", 1)[-1] for c in CASES}
    assert set(lrjax.compat.torch.optim.__all__) <= names


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_float64_trajectory_matches_torch(case, x64):
    trajectory, lrs, state = _run(case_optimizer(case), jnp.float64, case["n_steps"])
    want = np.asarray(case["trajectory"])
    assert trajectory.dtype == np.float64
    np.testing.assert_allclose(trajectory, want, rtol=1e-10, atol=1e-12)
    if "lrs" in case:  # the accessor reports the rate each update used
        # Adagrad's lr_decay divides the group's rate by 1 + k * lr_decay inside the step.
        decay = 1 + np.arange(case["n_steps"]) * case["defaults_filled"].get("lr_decay", 0)
        np.testing.assert_allclose(lrs, np.asarray(case["lrs"]) / decay, rtol=1e-12)
    _check_state(case, state)


# torch state key -> lrjax state field holding the same quantity
STATE_FIELDS = {
    "momentum_buffer": "momentum",
    "sum": "sum_of_squares",
    "exp_avg": "mu",
    "exp_avg_sq": "nu",
    "max_exp_avg_sq": "nu_max",
    "exp_inf": "nu",
    "square_avg": "nu",
    "acc_delta": "delta",
    "grad_avg": "mu",
    "mu_product": "mu_product",
    "prev": "prev",
    "eta": "eta",
    "mu": "mu",
    "ax": "ax",
    "step_size": "step_sizes",
    "variance": "v",  # Adafactor's unfactored second moment
    "row_var": "v_row",
    "col_var": "v_col",
}


def _check_state(case, state):
    for key, want in case["final_state"].items():
        if key == "step":
            counts = state_fields(state, "count")
            assert all(int(c) == want for c in counts), (key, counts)
            continue
        field = STATE_FIELDS[key]
        if case["optimizer"].endswith("RMSprop") and key == "momentum_buffer":
            field = "momentum"
        got = state_fields(state, field)
        assert got, f"no state field {field!r} for torch's {key!r}"
        np.testing.assert_allclose(np.asarray(got[-1]), want, rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("case", CASES[::3], ids=[c["name"] for c in CASES[::3]])
def test_float32_trajectory_close_to_torch(case):
    trajectory, _, _ = _run(case_optimizer(case), jnp.float32, case["n_steps"])
    want = np.asarray(case["trajectory"])
    assert trajectory.dtype == np.float32
    np.testing.assert_allclose(trajectory, want, rtol=2e-3, atol=2e-4 * np.abs(want).max())
