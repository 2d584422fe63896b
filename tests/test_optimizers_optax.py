"""lrjax optimizers agree with optax wherever the semantics are the same, and differ only
where they deliberately follow PyTorch (shared/refs/OPTAX.md sections 5.1 and 5.2).

The problem: params ``{"a": (3,), "b": (2, 2)}`` and the loss ``f(a) + 1e-4 f(b)`` with
``f(x) = sum(x²/2 + x⁴/10 - 0.3 x)``. Leaf "b" has gradients near 1e-4, so that eps and
its placement (inside or outside the square root, ``eps_root``) change the result far
beyond the tolerances. Each pair runs 30 closed-loop steps under one ``jax.jit``.

Rounding note. lrjax turns each hyperparameter into the compute dtype first and then
forms ``1 - β`` (see ``lrjax.transforms.base.scalar``); optax multiplies by the weakly
typed Python float ``1 - β``. In float32 ``1 - float32(0.999)`` is 1.3e-5 away from
``float32(0.001)``, which moves Adam's steps by ~1e-5 relative. The float32 comparisons
therefore use β2 = 1 - 2⁻¹⁰ (exact in binary, so both libraries round ``1 - β2`` the same
way) and meet rtol 1e-6; the library defaults (β2 = 0.999) are compared in float64, where
the two roundings agree to 1e-13.

Where the libraries deliberately differ, the tests show the difference and compare lrjax
with a few lines of NumPy (float64) transcribing PyTorch's update from
shared/refs/PEERS.md section 4.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
import lrjax.schedules as S

STEPS = 30
B2 = 1 - 2.0**-10  # exact in binary: 1 - B2 rounds identically in lrjax and optax
MASK = {"a": True, "b": False}
SCHED = S.warmup(S.cosine_decay(0.1, STEPS - 5, 0.01), 5, init=0.02)
P0 = {"a": [1.0, -2.0, 0.5], "b": [[0.3, -0.7], [1.5, -1.1]]}
WEIGHTS = {"a": 1.0, "b": 1e-4}


def _f(x):
    return jnp.sum(0.5 * x**2 + 0.1 * x**4 - 0.3 * x)


def loss(p):
    return sum(WEIGHTS[k] * _f(p[k]) for k in ("a", "b"))


grad = jax.grad(loss)


def params(dtype=jnp.float32):
    return {k: jnp.asarray(v, dtype) for k, v in P0.items()}


def trajectory(opt, p0, n=STEPS):
    """Params after each of n updates (leaves stacked on a leading axis)."""

    def step(carry, _):
        p, state = carry
        updates, state = opt.update(grad(p), state, p)
        p = optax.apply_updates(p, updates)
        return (p, state), p

    return jax.lax.scan(step, (p0, opt.init(p0)), length=n)[1]


def run_pair(ours, theirs, dtype=jnp.float32, n=STEPS):
    """Both trajectories from one compiled program (one compilation per pair)."""
    p0 = params(dtype)
    return jax.jit(lambda: (trajectory(ours, p0, n), trajectory(theirs, p0, n)))()


def assert_trees_close(got, want, rtol, atol):
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


def max_diff(x, y):
    return max(float(jnp.max(jnp.abs(x[k] - y[k]))) for k in x)


# name -> (lrjax optimizer, optax optimizer with the same semantics)
SAME = {
    "sgd": (lambda: lrjax.sgd(0.1), lambda: optax.sgd(0.1)),
    "sgd_momentum": (lambda: lrjax.sgd(0.1, 0.9), lambda: optax.sgd(0.1, 0.9)),
    "sgd_nesterov": (
        lambda: lrjax.sgd(0.1, 0.9, nesterov=True),
        lambda: optax.sgd(0.1, 0.9, nesterov=True),
    ),
    # The moving-average form b = μ b + (1 - μ) g is optax.ema without debiasing.
    "sgd_ema": (
        lambda: lrjax.sgd(0.1, 0.9, ema=True),
        lambda: optax.chain(optax.ema(0.9, debias=False), optax.scale(-0.1)),
    ),
    # optax.sgd applies the rate after its trace too, so a schedule agrees.
    "sgd_momentum_schedule": (lambda: lrjax.sgd(SCHED, 0.9), lambda: optax.sgd(SCHED, 0.9)),
    "sgd_weight_decay": (
        lambda: lrjax.sgd(0.1, 0.9, weight_decay=1e-2),
        lambda: optax.chain(optax.add_decayed_weights(1e-2), optax.sgd(0.1, 0.9)),
    ),
    "adagrad_optax_form": (
        lambda: lrjax.adagrad(0.1, initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True),
        lambda: optax.adagrad(0.1),
    ),
    "adadelta": (lambda: lrjax.adadelta(), lambda: optax.adadelta(1.0)),
    "adadelta_half": (lambda: lrjax.adadelta(0.5), lambda: optax.adadelta(0.5)),
    "adadelta_weight_decay": (
        lambda: lrjax.adadelta(0.5, rho=0.75, weight_decay=0.1),
        lambda: optax.chain(optax.add_decayed_weights(0.1), optax.adadelta(0.5, rho=0.75)),
    ),
    "rmsprop_optax_defaults": (
        lambda: lrjax.rmsprop(0.01, decay=0.9, eps_in_sqrt=True),
        lambda: optax.rmsprop(0.01),
    ),
    "rmsprop_torch_form": (
        lambda: lrjax.rmsprop(0.01, decay=0.99, eps=1e-8),
        lambda: optax.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False),
    ),
    "rmsprop_centered": (
        lambda: lrjax.rmsprop(0.01, decay=0.99, centered=True),
        lambda: optax.rmsprop(0.01, decay=0.99, eps_in_sqrt=False, centered=True),
    ),
    "rmsprop_momentum_constant_lr": (
        lambda: lrjax.rmsprop(0.01, decay=0.99, momentum=0.9),
        lambda: optax.rmsprop(0.01, decay=0.99, eps_in_sqrt=False, momentum=0.9),
    ),
    "adam": (lambda: lrjax.adam(0.1, 0.9, B2), lambda: optax.adam(0.1, 0.9, B2)),
    "adam_schedule": (lambda: lrjax.adam(SCHED, 0.9, B2), lambda: optax.adam(SCHED, 0.9, B2)),
    "adam_eps_root": (
        lambda: lrjax.adam(0.1, 0.9, B2, eps_root=1e-8),
        lambda: optax.adam(0.1, 0.9, B2, eps_root=1e-8),
    ),
    "adam_l2": (
        lambda: lrjax.adam(0.1, 0.9, B2, weight_decay=1e-2),
        lambda: optax.chain(optax.add_decayed_weights(1e-2), optax.adam(0.1, 0.9, B2)),
    ),
    # optax.adamw's default weight decay is 1e-4; lrjax's is torch's 1e-2.
    "adamw_mask": (
        lambda: lrjax.adamw(0.1, 0.9, B2, weight_decay=1e-4, mask=MASK),
        lambda: optax.adamw(0.1, 0.9, B2, mask=MASK),
    ),
    # Both multiply the decoupled decay by the scheduled rate.
    "adamw_schedule": (
        lambda: lrjax.adamw(SCHED, 0.9, B2, weight_decay=0.1),
        lambda: optax.adamw(SCHED, 0.9, B2, weight_decay=0.1),
    ),
    "nadam_constant_momentum": (
        lambda: lrjax.nadam(0.1, 0.9, B2, momentum_decay=None),
        lambda: optax.nadam(0.1, 0.9, B2),
    ),
    "adamax": (lambda: lrjax.adamax(0.1), lambda: optax.adamax(0.1)),
    "adamax_betas": (lambda: lrjax.adamax(0.05, 0.8, 0.99), lambda: optax.adamax(0.05, 0.8, 0.99)),
    "adamaxw_mask": (
        lambda: lrjax.adamaxw(0.05, mask=MASK),
        lambda: optax.adamaxw(0.05, mask=MASK),
    ),
    "sign_sgd": (lambda: lrjax.sign_sgd(0.05), lambda: optax.sign_sgd(0.05)),
    "signum": (lambda: lrjax.signum(0.05, 0.8), lambda: optax.signum(0.05, 0.8)),
    "lion": (lambda: lrjax.lion(0.05), lambda: optax.lion(0.05)),
    "lion_schedule_mask": (
        lambda: lrjax.lion(SCHED, 0.8, 0.95, weight_decay=0.1, mask=MASK),
        lambda: optax.lion(SCHED, 0.8, 0.95, weight_decay=0.1, mask=MASK),
    ),
    "adabelief": (lambda: lrjax.adabelief(0.05, 0.9, B2), lambda: optax.adabelief(0.05, 0.9, B2)),
    "yogi": (lambda: lrjax.yogi(0.05, 0.9, B2), lambda: optax.yogi(0.05, 0.9, B2)),
    # Adafactor: "b" (2x2) factored with min_dim_size_to_factor=2, else a full moment;
    # the momentum is 1 - 2⁻³, exact in binary (module docstring). More in test_factored.
    "adafactor_factored": (
        lambda: lrjax.adafactor(0.05, min_dim_size_to_factor=2),
        lambda: optax.adafactor(0.05, min_dim_size_to_factor=2),
    ),
    "adafactor_schedule_momentum_mask": (
        lambda: lrjax.adafactor(
            SCHED, 2, momentum=0.875, weight_decay_rate=1e-2, weight_decay_mask=MASK
        ),
        lambda: optax.adafactor(
            SCHED, 2, momentum=0.875, weight_decay_rate=1e-2, weight_decay_mask=MASK
        ),
    ),
    "sm3": (lambda: lrjax.sm3(0.05, 0.875), lambda: optax.sm3(0.05, 0.875)),
    # optax has no lazy methods; here every row of the table "b" has a non-zero gradient,
    # where lazy Adam (eps on v̂, eps_hat=False) and lazy AdaGrad are the dense ones
    "lazy_adam_every_row_present": (
        lambda: lrjax.lazy_adam(0.1, 0.9, B2, eps_hat=False),
        lambda: optax.adam(0.1, 0.9, B2),
    ),
    "lazy_adagrad_every_row_present": (
        lambda: lrjax.lazy_adagrad(0.1, initial_accumulator_value=0.1, eps=0.0, tables=True),
        lambda: optax.adagrad(0.1, initial_accumulator_value=0.1, eps=0.0),
    ),
    # The learning-rate-free methods of optax.contrib (polyak_sgd needs value=: see
    # tests/test_mechanic_cocob_dowg_polyak.py).
    "mechanize_adam": (
        lambda: lrjax.adaptive.mechanize(lrjax.adam(0.1, 0.9, B2), s_init=1e-2),
        lambda: optax.contrib.mechanize(optax.adam(0.1, 0.9, B2), s_init=1e-2),
    ),
    "mechanize_sgd_options": (
        lambda: lrjax.adaptive.mechanize(lrjax.sgd(SCHED, 0.9), 0.1, 1e-6, 1e-4, 3),
        lambda: optax.contrib.mechanize(optax.sgd(SCHED, 0.9), 0.1, 1e-6, 1e-4, 3),
    ),
    "cocob": (lambda: lrjax.adaptive.cocob(), lambda: optax.contrib.cocob()),
    "cocob_options": (
        lambda: lrjax.adaptive.cocob(alpha=10.0, eps=1e-6, weight_decay=0.01, mask=MASK),
        lambda: optax.contrib.cocob(alpha=10.0, eps=1e-6, weight_decay=0.01, mask=MASK),
    ),
    "dowg": (lambda: lrjax.adaptive.dowg(), lambda: optax.contrib.dowg()),
    "dowg_options": (
        lambda: lrjax.adaptive.dowg(SCHED, 1e-2, 1e-6, weight_decay=0.01, mask=MASK),
        lambda: optax.contrib.dowg(SCHED, 1e-2, 1e-6, weight_decay=0.01, mask=MASK),
    ),
    # LARS applies the rate before its momentum, as optax does: a schedule agrees.
    "lars": (lambda: lrjax.lars(0.1), lambda: optax.lars(0.1)),
    "lars_masks_schedule_nesterov": (
        lambda: lrjax.lars(SCHED, 1e-2, MASK, 0.01, 1e-3, {"a": False, "b": True}, 0.8, True),
        lambda: optax.lars(SCHED, 1e-2, MASK, 0.01, 1e-3, {"a": False, "b": True}, 0.8, True),
    ),
    "lamb": (lambda: lrjax.lamb(0.05, 0.9, B2), lambda: optax.lamb(0.05, 0.9, B2)),
    "lamb_mask_schedule": (
        lambda: lrjax.lamb(SCHED, 0.9, B2, 1e-6, 1e-8, 0.1, MASK),
        lambda: optax.lamb(SCHED, 0.9, B2, 1e-6, 1e-8, 0.1, MASK),
    ),
    "novograd": (lambda: lrjax.novograd(0.05), lambda: optax.novograd(0.05)),
    "novograd_schedule_weight_decay": (
        lambda: lrjax.novograd(SCHED, 0.8, 0.5, 1e-6, 1e-8, 1e-2),
        lambda: optax.novograd(SCHED, 0.8, 0.5, 1e-6, 1e-8, 1e-2),
    ),
}


@pytest.mark.parametrize("name", SAME)
def test_float32_trajectory_equals_optax(name):
    ours, theirs = SAME[name]
    got, want = run_pair(ours(), theirs())
    assert got["a"].dtype == jnp.float32
    # Params are O(1): atol is 1e-6 of the problem's scale.
    assert_trees_close(got, want, rtol=1e-6, atol=1e-6)
    assert max_diff(want, jax.tree.map(lambda x: x[:1], want)) > 1e-2  # they did move


DEFAULTS = {
    "adam": (lambda: lrjax.adam(0.1), lambda: optax.adam(0.1)),
    "adamw": (
        lambda: lrjax.adamw(0.1, weight_decay=1e-4, mask=MASK),
        lambda: optax.adamw(0.1, mask=MASK),
    ),
    "nadam": (lambda: lrjax.nadam(0.1, momentum_decay=None), lambda: optax.nadam(0.1)),
    "rmsprop_momentum": (
        lambda: lrjax.rmsprop(0.01, momentum=0.9),
        lambda: optax.rmsprop(0.01, decay=0.99, eps_in_sqrt=False, momentum=0.9),
    ),
    "adam_schedule": (lambda: lrjax.adam(SCHED), lambda: optax.adam(SCHED)),
    "adabelief": (lambda: lrjax.adabelief(0.05), lambda: optax.adabelief(0.05)),
    "yogi": (lambda: lrjax.yogi(0.05), lambda: optax.yogi(0.05)),
    # (no adafactor: optax computes its decay 1 - t^-0.8 in float32 also for float64
    # params, ~1e-8 away; tests/test_factored.py compares float64 at that tolerance)
    "sm3": (lambda: lrjax.sm3(0.05), lambda: optax.sm3(0.05)),
    "lazy_adam": (lambda: lrjax.lazy_adam(0.1, eps_hat=False), lambda: optax.adam(0.1)),
    "lars": (lambda: lrjax.lars(0.1), lambda: optax.lars(0.1)),
    "lamb": (lambda: lrjax.lamb(0.05), lambda: optax.lamb(0.05)),
    "novograd": (lambda: lrjax.novograd(0.05), lambda: optax.novograd(0.05)),
    "adamaxw": (lambda: lrjax.adamaxw(0.05), lambda: optax.adamaxw(0.05)),
    "mechanize": (
        lambda: lrjax.adaptive.mechanize(lrjax.adam(0.1)),
        lambda: optax.contrib.mechanize(optax.adam(0.1)),
    ),
    "cocob": (lambda: lrjax.adaptive.cocob(), lambda: optax.contrib.cocob()),
    "dowg": (lambda: lrjax.adaptive.dowg(), lambda: optax.contrib.dowg()),
}


@pytest.mark.parametrize("name", DEFAULTS)
def test_float64_default_betas_equal_optax(name, x64):
    """With β2 = 0.999 the float32 runs differ by the rounding of ``1 - β2`` (module
    docstring); in float64 that rounding is 1e-13 and the trajectories agree to 1e-10."""
    ours, theirs = DEFAULTS[name]
    got, want = run_pair(ours(), theirs(), jnp.float64)
    assert got["a"].dtype == jnp.float64
    assert_trees_close(got, want, rtol=1e-10, atol=1e-12)


def test_bfloat16_first_moment_close_to_optax():
    """``mu_dtype=bfloat16``: the first moment is stored in bfloat16 (relative precision
    2⁻⁸), so one-ulp rounding flips move each step by ~0.4% of the rate. Given the same
    params and gradients (optax's trajectory), lrjax's updates are within 2% of the rate
    of optax's, and at least as close to the float32 optimizer as optax's: optax forms
    ``β1 m`` in bfloat16, lrjax in float32."""
    lr = 0.1

    def forced(opt, ps, gs):
        def step(state, pg):
            updates, state = opt.update(pg[1], state, pg[0])
            return state, (updates, state)

        return jax.lax.scan(step, opt.init(params()), (ps, gs))[1]

    @jax.jit
    def run():
        theirs = optax.adam(lr, 0.9, B2, mu_dtype=jnp.bfloat16)

        def step(carry, _):
            p, state = carry
            g = grad(p)
            updates, state = theirs.update(g, state, p)
            return (optax.apply_updates(p, updates), state), (p, g, updates)

        _, (ps, gs, want) = jax.lax.scan(step, (params(), theirs.init(params())), length=STEPS)
        got, states = forced(lrjax.adam(lr, 0.9, B2, mu_dtype=jnp.bfloat16), ps, gs)
        exact, _ = forced(lrjax.adam(lr, 0.9, B2), ps, gs)
        return want, got, exact, states

    want, got, exact, states = run()
    assert states[1].mu["a"].dtype == jnp.bfloat16
    assert states[1].nu["a"].dtype == jnp.float32
    for k in want:
        assert got[k].dtype == jnp.float32
        np.testing.assert_allclose(got[k], want[k], atol=2e-2 * lr, err_msg=k)
        ours_err = float(jnp.max(jnp.abs(got[k] - exact[k])))
        theirs_err = float(jnp.max(jnp.abs(want[k] - exact[k])))
        assert ours_err <= theirs_err, (k, ours_err, theirs_err)


# ---------------------------------------------------------------------------------------
# Deliberate differences, each against a NumPy transcription of torch's update (float64).
# ---------------------------------------------------------------------------------------


def np_trajectory(leaf_step, n=STEPS):
    """Params after each update of ``leaf_step(p, g, state: dict, t) -> p`` (t from 1)."""
    p = {k: np.asarray(v, np.float64) for k, v in P0.items()}
    states = {k: {} for k in p}
    out = []
    for t in range(1, n + 1):
        for k in p:
            g = WEIGHTS[k] * (p[k] + 0.4 * p[k] ** 3 - 0.3)
            p[k] = leaf_step(p[k], g, states[k], t)
        out.append({k: v.copy() for k, v in p.items()})
    return {k: np.stack([o[k] for o in out]) for k in p}


def torch_amsgrad(lr, b1=0.9, b2=0.999, eps=1e-8):
    def step(p, g, s, t):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])  # max of the RAW v
        denom = np.sqrt(s["vmax"]) / np.sqrt(1 - b2**t) + eps
        return p - lr / (1 - b1**t) * s["m"] / denom

    return step


def torch_radam(lr, b1=0.9, b2=0.999, eps=1e-8):
    def step(p, g, s, t):
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat = s["m"] / (1 - b1**t)
        bc2 = 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / bc2
        if rho_t <= 5:
            return p - lr * m_hat
        r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return p - lr * m_hat * r * np.sqrt(bc2) / (np.sqrt(s["v"]) + eps)  # eps on raw sqrt(v)

    return step


def torch_nadam(lr, b1=0.9, b2=0.999, eps=1e-8, psi=4e-3):
    def step(p, g, s, t):
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        s["prod"] = s.get("prod", 1.0) * mu_t
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        d = np.sqrt(s["v"] / (1 - b2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - s["prod"]) * g / d
        return p - lr * mu_next / (1 - s["prod"] * mu_next) * s["m"] / d

    return step


def torch_adagrad(lr, eps=1e-10):
    def step(p, g, s, t):
        s["S"] = s.get("S", 0.0) + g * g  # S_0 = 0
        return p - lr * g / (np.sqrt(s["S"]) + eps)  # eps outside the root

    return step


DIFFERENT = {
    # Torch keeps the max of the raw v and bias-corrects it; optax's amsgrad keeps the max
    # of the bias-corrected v̂ (OPTAX.md 5.2), which is larger early on: smaller steps.
    "amsgrad": (
        lambda: lrjax.adam(0.1, amsgrad=True),
        lambda: optax.amsgrad(0.1),
        torch_amsgrad(0.1),
    ),
    # eps on the uncorrected sqrt(v) (torch) vs on the corrected one (optax); with
    # gradients near 1e-4 (leaf "b") the placement matters.
    "radam": (lambda: lrjax.radam(0.05), lambda: optax.radam(0.05), torch_radam(0.05)),
    # torch's NAdam decays the momentum (μ_t = β1 (1 - 0.96^(tψ)/2)); optax's nadam keeps
    # μ = β1.
    "nadam_default": (lambda: lrjax.nadam(0.1), lambda: optax.nadam(0.1), torch_nadam(0.1)),
    # Defaults: torch (S_0 = 0, eps 1e-10 outside the root) vs TensorFlow/optax (S_0 = 0.1,
    # eps 1e-7 inside the root).
    "adagrad_defaults": (
        lambda: lrjax.adagrad(0.1),
        lambda: optax.adagrad(0.1),
        torch_adagrad(0.1),
    ),
}


@pytest.mark.parametrize("name", DIFFERENT)
def test_deliberate_difference_follows_torch(name, x64):
    ours, theirs, torch_step = DIFFERENT[name]
    got, other = run_pair(ours(), theirs(), jnp.float64)
    want = np_trajectory(torch_step)
    assert_trees_close(got, want, rtol=1e-10, atol=1e-12)
    assert max_diff(got, other) > 1e-3, "optax was expected to differ"


def test_rmsprop_momentum_under_a_schedule_differs_from_optax():
    """lrjax (torch order) accumulates unscaled steps ``B ← μB + g/d`` and applies
    ``-η_t B``; optax scales first, ``B ← μB + η_t g/d``. With a constant rate the two are
    equal (``rmsprop_momentum_constant_lr`` above); under a schedule they are not, and
    lrjax's result is the torch form written here by hand."""
    sched = S.step_decay(0.05, 0.1, 10)  # 0.05, then 0.005 after 10 updates, ...
    ours = lrjax.rmsprop(sched, decay=0.99, momentum=0.9)
    theirs = optax.rmsprop(sched, decay=0.99, eps_in_sqrt=False, momentum=0.9)
    got, other = run_pair(ours, theirs)

    def torch_rmsprop(p, g, s, t):
        s["v"] = 0.99 * s.get("v", 0.0) + 0.01 * g * g
        s["B"] = 0.9 * s.get("B", 0.0) + g / (np.sqrt(s["v"]) + 1e-8)
        return p - float(sched(t - 1)) * s["B"]

    want = np_trajectory(torch_rmsprop)
    # float32 lrjax vs float64 reference: rtol 1e-5 is float32 round-off over 30 steps.
    assert_trees_close(got, want, rtol=1e-5, atol=1e-5)
    # After the drop optax's buffer still holds steps scaled by the old rate.
    assert max_diff(got, other) > 1e-2


def test_adadelta_default_descends_where_optax_default_ascends():
    """lrjax.adadelta() defaults to learning_rate 1.0 (Zeiler 2012, torch); optax's
    adadelta() has learning_rate=None and returns +Δ, i.e. gradient ascent (OPTAX.md 5.2)."""
    x0 = jnp.array([1.0, 2.0, 3.0])

    def sq(x):
        return jnp.sum(x * x)

    def final_loss(opt):
        def step(carry, _):
            x, state = carry
            updates, state = opt.update(jax.grad(sq)(x), state, x)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(step, (x0, opt.init(x0)), length=2000)
        return sq(x)

    ours, theirs = jax.jit(lambda: (final_loss(lrjax.adadelta()), final_loss(optax.adadelta())))()
    start = float(sq(x0))
    assert float(ours) < 0.5 * start
    assert float(theirs) > 100 * start
