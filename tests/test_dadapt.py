"""D-Adaptation (Adam, SGD, AdaGrad) against dadaptation 3.2: trajectory, d and the
statistics behind it."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from lrfree import assert_vmap_matches_loop, load_cases, run

from lrjax.adaptive import (
    DAdaptAdaGradState,
    DAdaptAdamState,
    DAdaptSGDState,
    dadapt_adagrad,
    dadapt_adam,
    dadapt_sgd,
)
from lrjax.compat import dadaptation
from lrjax.transforms.base import find_states

CASES = load_cases("dadaptation")
STATES = (DAdaptAdamState, DAdaptSGDState, DAdaptAdaGradState)


def _state(state):
    return find_states(state, STATES)[0]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reference_trajectory_and_d(case, x64):
    opt = getattr(dadaptation, case["class"].rsplit(".", 1)[-1])(**case["kwargs"])
    fields = ["d"] + [
        f
        for f in ("numerator", "gsq_weighted", "sksq_weighted", "skl1")
        if f in _FIELDS[case["class"]]
    ]

    def record(state):
        s = _state(state)
        return jnp.stack([getattr(s, f) for f in fields])

    trajectory, rec = run(opt, case["n_steps"], record)
    np.testing.assert_allclose(trajectory, case["trajectory"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rec[:, 0], case["d"][1:], rtol=1e-10)
    for i, f in enumerate(fields[1:], 1):
        key = "numerator_weighted" if f == "numerator" else f
        np.testing.assert_allclose(rec[:, i], case[key], rtol=1e-9, atol=1e-300, err_msg=f)


_FIELDS = {
    "dadaptation.DAdaptAdam": ("numerator",),
    "dadaptation.DAdaptSGD": ("numerator",),
    "dadaptation.DAdaptAdaGrad": ("gsq_weighted", "sksq_weighted", "skl1"),
}


@pytest.mark.parametrize("build", [dadapt_adam, dadapt_sgd, dadapt_adagrad])
def test_zero_gradient_takes_no_step(build):
    opt = build()
    p = jnp.ones(2)
    updates, state = opt.update(jnp.zeros(2), opt.init(p), p)
    np.testing.assert_array_equal(updates, 0.0)
    assert int(_state(state).count) == 0


@pytest.mark.parametrize("build", [dadapt_adam, dadapt_sgd, dadapt_adagrad])
def test_d_grows_and_training_converges(build):
    # Well conditioned: dual-averaging SGD at lr = 1 steps d / |g0|, too long for stiff
    # directions (it diverges on diag(1, 3, 10)), as the reference does.
    A = jnp.diag(jnp.array([1.0, 1.5, 2.0]))
    opt = build()

    def step(carry, _):
        p, s = carry
        u, s = opt.update(A @ p - 1.0, s, p)
        return (optax.apply_updates(p, u), s), _state(s).d

    p0 = jnp.zeros(3)
    (p, _), ds = jax.jit(lambda: jax.lax.scan(step, (p0, opt.init(p0)), length=400))()
    assert float(ds[-1]) > 1e3 * 1e-6  # grew from d0
    assert np.all(np.diff(np.asarray(ds)) >= 0)  # never shrinks
    loss = lambda p: 0.5 * p @ A @ p - p.sum()  # noqa: E731
    optimum = jnp.linalg.solve(A, jnp.ones(3))
    assert float(loss(p) - loss(optimum)) < 0.05 * float(loss(p0) - loss(optimum))


@pytest.mark.parametrize("field", ["learning_rate", "growth_rate", "d0"])
def test_vmap_equals_loop_without_recompiling(field):
    values = {
        "learning_rate": [0.5, 1.0, 2.0],
        "growth_rate": [1.02, 1.2, float("inf")],
        "d0": [1e-7, 1e-6, 1e-4],
    }[field]
    base = dict(learning_rate=1.0, growth_rate=float("inf"), d0=1e-6)
    assert_vmap_matches_loop(dadapt_adam, field, values, base, steps=40)


@pytest.mark.parametrize(
    "build, name",
    [
        (lambda: dadapt_adam(0.0), "learning_rate"),
        (lambda: dadapt_adam(d0=-1.0), "d0"),
        (lambda: dadapt_sgd(momentum=1.0), "momentum"),
        (lambda: dadapt_adagrad(eps=0.0), "eps"),
        (lambda: dadapt_adam(growth_rate=0.9), "growth_rate"),
        (lambda: dadaptation.DAdaptAdam(lr=-1.0), "lr"),
        (lambda: dadaptation.DAdaptAdam(betas=(1.0, 0.9)), r"betas\[0\]"),
    ],
)
def test_bad_values_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()
