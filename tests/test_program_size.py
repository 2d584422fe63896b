"""The program an update traces grows with the number of leaves only by the per-leaf
arithmetic: scalar coefficients (bias corrections, 1 - β) are traced once per dtype, so a
model with hundreds of leaves lowers and compiles no more than with optax."""

import jax
import jax.numpy as jnp
import optax
import pytest

import lrjax


def per_leaf_equations(opt: optax.GradientTransformation) -> float:
    """Jaxpr equations of one update + apply, per extra leaf (32 -> 64 leaves)."""

    def count(n):
        params = [jnp.ones(8) for _ in range(n)]
        state = opt.init(params)

        def step(p, s):
            u, s = opt.update(p, s, p)
            return optax.apply_updates(p, u), s

        return len(jax.make_jaxpr(step)(params, state).jaxpr.eqns)

    return (count(64) - count(32)) / 32


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lrjax.sgd(1e-3, 0.9, nesterov=True), optax.sgd(1e-3, 0.9, nesterov=True)),
        (lrjax.adagrad(1e-2), optax.adagrad(1e-2)),
        (lrjax.rmsprop(1e-2), optax.rmsprop(1e-2)),
        (lrjax.adadelta(1.0), optax.adadelta(1.0)),
        (lrjax.adam(1e-3), optax.adam(1e-3)),
        (lrjax.adamw(1e-3, weight_decay=1e-2), optax.adamw(1e-3, weight_decay=1e-2)),
        (lrjax.nadam(1e-3, momentum_decay=None), optax.nadam(1e-3)),
        (lrjax.radam(1e-3), optax.radam(1e-3)),
        (lrjax.adamax(1e-3), optax.adamax(1e-3)),
    ],
    ids=["nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "nadam", "radam", "adamax"],
)
def test_per_leaf_program_no_larger_than_optax(ours, theirs):
    assert per_leaf_equations(ours) <= per_leaf_equations(theirs)


def test_mixed_dtypes_get_their_own_coefficients():
    # one coefficient set per dtype: a bfloat16 leaf next to float32 ones still updates
    # in float32 arithmetic and keeps its dtype
    params = {"a": jnp.ones(4), "b": jnp.ones(4, jnp.bfloat16)}
    opt = lrjax.adam(0.1)
    updates, _ = opt.update(params, opt.init(params), params)
    assert updates["a"].dtype == jnp.float32 and updates["b"].dtype == jnp.bfloat16
    assert float(updates["a"][0]) == pytest.approx(-0.1, rel=1e-6)  # m̂ / sqrt(v̂) = 1
    assert float(updates["b"][0]) == pytest.approx(-0.1, rel=1e-2)
