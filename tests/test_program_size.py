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


METHODS = {
    "sgd_nesterov": lambda: lrjax.sgd(1e-2, 0.9, nesterov=True),
    "adagrad": lambda: lrjax.adagrad(1e-2),
    "rmsprop": lambda: lrjax.rmsprop(1e-2, centered=True, momentum=0.5),
    "adadelta": lambda: lrjax.adadelta(1.0),
    "adam": lambda: lrjax.adam(1e-2),
    "amsgrad": lambda: lrjax.adam(1e-2, amsgrad=True),
    "adamw": lambda: lrjax.adamw(1e-2, weight_decay=1e-2),
    "nadam": lambda: lrjax.nadam(1e-2),
    "radam": lambda: lrjax.radam(1e-2),
    "adamax": lambda: lrjax.adamax(1e-2),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_tree_update_equals_each_leaf_alone(name):
    # The shared per-dtype coefficients are a fast path: updating a tree of mixed shapes
    # and dtypes must give, bit for bit, what each leaf gives updated on its own.
    keys = jax.random.split(jax.random.key(0), 4)
    params = {
        "w": jax.random.normal(keys[0], (3, 5)),
        "b": jax.random.normal(keys[1], (5,)),
        "h": jax.random.normal(keys[2], (4,)).astype(jnp.bfloat16),
        "s": jnp.asarray(0.5),
    }

    def train(p, opt):
        state = opt.init(p)
        for k in range(6):  # past RAdam's rectification threshold (step 5)
            g = jax.tree.map(lambda x, k=k: jnp.sin(x * (k + 1)).astype(x.dtype), p)
            u, state = opt.update(g, state, p)
            p = optax.apply_updates(p, u)
        return p

    whole = train(params, METHODS[name]())
    for key, leaf in params.items():
        alone = train({key: leaf}, METHODS[name]())[key]
        assert alone.dtype == whole[key].dtype
        assert jnp.array_equal(alone, whole[key]), key
