"""Hypergradient descent: the reference SGDHD / AdamHD trajectories and learned rates, the
multiplicative rule and bounds, tracing."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import load_cases, run

import lrjax
from lrjax.adaptive import hypergradient, sgd_hd
from lrjax.compat import hypergrad

CASES = load_cases("hypergradient")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_trajectory_and_rates(case, x64):
    opt = getattr(hypergrad, case["class"].rsplit(".", 1)[-1])(**case["kwargs"])
    n = case["n_steps"]
    trajectory, lrs = run(opt, n, lrjax.applied_lr)
    m = case.get("compare_prefix_updates", n)  # diverging runs: the finite, stable prefix
    np.testing.assert_allclose(
        trajectory[: m + 1], np.asarray(case["trajectory"])[: m + 1], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(lrs[:m], case["lr"][:m], rtol=1e-10, atol=1e-15)


def _python_hd(grads, lr, beta, multiplicative=False, lo=-np.inf, hi=np.inf):
    """Plain SGD-HD on a fixed gradient sequence (the direction is the gradient)."""
    prev, rates = np.zeros_like(grads[0]), []
    for g in grads:
        dot = float(g @ prev)
        if multiplicative:
            norms = np.linalg.norm(g) * np.linalg.norm(prev)
            lr = lr * (1 + beta * (dot / norms if norms > 0 else 0.0))
        else:
            lr = lr + beta * dot
        lr = min(max(lr, lo), hi)
        rates.append(lr)
        prev = g
    return rates


GRADS = np.random.default_rng(0).normal(size=(20, 4)) + np.array([1.0, 0.5, -0.5, 0.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(multiplicative=True),
        dict(min_lr=0.05, max_lr=0.2),
        dict(multiplicative=True, max_lr=0.15),
    ],
)
def test_rules_and_bounds_follow_the_formula(kwargs, x64):
    opt = sgd_hd(0.1, 0.02, **kwargs)
    state = opt.init(jnp.zeros(4))
    got = []
    for g in GRADS:
        updates, state = opt.update(jnp.asarray(g), state, jnp.zeros(4))
        got.append(float(lrjax.applied_lr(state)))
        np.testing.assert_allclose(updates, -got[-1] * g, rtol=1e-12)
    lo, hi = kwargs.get("min_lr", -np.inf), kwargs.get("max_lr", np.inf)
    want = _python_hd(GRADS, 0.1, 0.02, kwargs.get("multiplicative", False), lo, hi)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_multiplicative_rate_stays_positive_where_additive_goes_negative():
    alternating = [np.array([1.0, 1.0]) * (-1) ** k * 10 for k in range(10)]
    for multiplicative, positive in [(False, False), (True, True)]:
        opt = hypergradient(optax.identity(), 0.1, 0.5, multiplicative=multiplicative)
        state = opt.init(jnp.zeros(2))
        for g in alternating:
            _, state = opt.update(jnp.asarray(g), state)
        assert (float(lrjax.applied_lr(state)) > 0) == positive


@pytest.mark.parametrize("field", ["learning_rate", "hypergrad_lr", "momentum"])
def test_vmap_equals_loop_without_recompiling(field):
    values = {
        "learning_rate": [0.01, 0.05, 0.1],
        "hypergrad_lr": [0.0, 1e-3, 1e-2],
        "momentum": [0.0, 0.5, 0.9],
    }[field]
    base = dict(learning_rate=0.05, hypergrad_lr=1e-3, momentum=0.5)

    def final(v):
        kw = {**base, field: v}
        opt = sgd_hd(kw["learning_rate"], kw["hypergrad_lr"], kw["momentum"])

        def step(carry, g):
            p, s = carry
            u, s = opt.update(g + p, s, p)
            return (p + u, s), None

        (p, s), _ = jax.lax.scan(step, (jnp.ones(4), opt.init(jnp.ones(4))), jnp.asarray(GRADS))
        return p, lrjax.applied_lr(s)

    single = jax.jit(chex.assert_max_traces(final, n=1))
    batched = jax.jit(jax.vmap(final))(jnp.asarray(values))
    for i, v in enumerate(values):
        p, lr = single(jnp.asarray(v))
        np.testing.assert_allclose(batched[0][i], p, rtol=1e-6)
        np.testing.assert_allclose(batched[1][i], lr, rtol=1e-6)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: sgd_hd(0.1, -1.0), "hypergrad_lr"),
        (lambda: sgd_hd(float("nan")), "learning_rate"),
        (lambda: sgd_hd(0.1, 1.5, multiplicative=True), "hypergrad_lr"),
        (lambda: sgd_hd(0.1, min_lr=0.2, max_lr=0.1), "min_lr"),
        (lambda: hypergrad.SGDHD(float("inf")), "lr"),
        (lambda: hypergrad.AdamHD(betas=(1.0, 0.999)), r"betas\[0\]"),
        (lambda: hypergrad.SGDHD(0.1, nesterov=True), "nesterov"),
    ],
)
def test_bad_values_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()
