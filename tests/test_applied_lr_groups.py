"""`applied_lr` on parameter groups and other parallel structures: one rate per group,
keyed by the partition's labels, never their product; an error where rates apply to
different leaves without labels; and the sweep runner records the groups' rates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax import adaptive as A
from lrjax import schedules as S
from lrjax.sweep import run

PARAMS = {"backbone": {"w": jnp.ones((3, 2))}, "head": {"w": jnp.ones(2), "b": jnp.ones(1)}}
LABELS = {"backbone": {"w": "backbone"}, "head": {"w": "head", "b": "head"}}


def _steps(opt, n, params=PARAMS):
    state = opt.init(params)
    for _ in range(n):
        grads = jax.tree.map(jnp.ones_like, params)
        _, state = opt.update(grads, state, params)
    return state


@pytest.mark.parametrize("combine", [optax.partition, optax.multi_transform])
def test_groups_report_their_own_rates_not_the_product(combine):
    # The observation: 9.6e-7 and 9.6e-6 were reported as 9.2e-12.
    opt = combine({"backbone": lrjax.adam(9.6e-7), "head": lrjax.sgd(9.6e-6)}, LABELS)
    rates = lrjax.applied_lr(_steps(opt, 2))
    assert set(rates) == {"backbone", "head"}
    np.testing.assert_allclose(rates["backbone"], 9.6e-7, rtol=1e-6)
    np.testing.assert_allclose(rates["head"], 9.6e-6, rtol=1e-6)


def test_scheduled_groups_follow_their_schedules():
    backbone = S.cosine_decay(0.01, 10)
    head = S.linear(0.1, 0.0, 10)
    opt = optax.partition({"backbone": lrjax.adamw(backbone), "head": lrjax.adam(head)}, LABELS)
    for k in range(1, 6):
        rates = lrjax.applied_lr(_steps(opt, k))
        np.testing.assert_allclose(rates["backbone"], backbone(k - 1), rtol=1e-6)
        np.testing.assert_allclose(rates["head"], head(k - 1), rtol=1e-6)


def test_a_frozen_group_has_no_rate_and_is_left_out():
    opt = optax.partition({"backbone": optax.set_to_zero(), "head": lrjax.adam(1e-3)}, LABELS)
    rates = lrjax.applied_lr(_steps(opt, 1))
    assert list(rates) == ["head"]
    np.testing.assert_allclose(rates["head"], 1e-3, rtol=1e-6)


def test_a_group_built_with_optax_alone_is_left_out():
    opt = optax.partition({"backbone": optax.adam(1e-4), "head": lrjax.adam(1e-3)}, LABELS)
    assert list(lrjax.applied_lr(_steps(opt, 1))) == ["head"]


def test_no_lrjax_rate_in_any_group_raises():
    opt = optax.partition({"backbone": optax.adam(1e-4), "head": optax.sgd(1e-3)}, LABELS)
    with pytest.raises(ValueError, match="no lrjax learning-rate state"):
        lrjax.applied_lr(_steps(opt, 1))


def test_a_factor_in_series_scales_every_group():
    # scale_by_loss(δ) multiplies every update after the partition by 1 / sqrt(1 + δ loss):
    # each group's rate is its own times that factor (δ = 1, last loss 0.5).
    groups = optax.partition({"backbone": lrjax.sgd(0.1), "head": lrjax.sgd(0.01)}, LABELS)
    opt = optax.with_extra_args_support(optax.chain(groups, A.scale_by_loss(1.0)))
    state = opt.init(PARAMS)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    _, state = opt.update(grads, state, PARAMS, value=jnp.asarray(2.0))
    _, state = opt.update(grads, state, PARAMS, value=jnp.asarray(0.5))
    rates = lrjax.applied_lr(state)
    factor = 1 / np.sqrt(1 + 0.5)
    np.testing.assert_allclose(rates["backbone"], 0.1 * factor, rtol=1e-6)
    np.testing.assert_allclose(rates["head"], 0.01 * factor, rtol=1e-6)


def test_nested_partitions_give_nested_labels():
    # The inner partition sees the whole tree (the backbone's leaves masked out).
    inner_labels = {"backbone": {"w": "w"}, "head": {"w": "w", "b": "b"}}
    head = optax.partition({"w": lrjax.adam(1e-3), "b": lrjax.sgd(1e-2)}, inner_labels)
    opt = optax.partition({"backbone": lrjax.adam(1e-4), "head": head}, LABELS)
    rates = lrjax.applied_lr(_steps(opt, 1))
    np.testing.assert_allclose(rates["backbone"], 1e-4, rtol=1e-6)
    np.testing.assert_allclose(rates["head"]["w"], 1e-3, rtol=1e-6)
    np.testing.assert_allclose(rates["head"]["b"], 1e-2, rtol=1e-6)


def test_masked_branches_with_their_own_rates_raise():
    is_head = {"backbone": {"w": False}, "head": {"w": True, "b": True}}
    is_backbone = jax.tree.map(lambda x: not x, is_head)
    opt = optax.chain(
        optax.masked(lrjax.adam(1e-3), is_head), optax.masked(lrjax.sgd(1e-4), is_backbone)
    )
    with pytest.raises(ValueError, match="different leaves.*optax.partition"):
        lrjax.applied_lr(_steps(opt, 1))


def test_a_masked_rate_in_series_with_another_raises():
    is_head = {"backbone": {"w": False}, "head": {"w": True, "b": True}}
    opt = optax.chain(optax.masked(lrjax.sgd(0.5), is_head), lrjax.sgd(0.1))
    with pytest.raises(ValueError, match="different leaves"):
        lrjax.applied_lr(_steps(opt, 1))


def test_a_masked_piece_alone_reports_its_rate():
    is_head = {"backbone": {"w": False}, "head": {"w": True, "b": True}}
    opt = optax.chain(optax.masked(lrjax.adam(3e-3), is_head), optax.add_decayed_weights(0.1))
    np.testing.assert_allclose(lrjax.applied_lr(_steps(opt, 1)), 3e-3, rtol=1e-6)


def test_vmapped_groups_are_batched():
    def make(lr):
        return optax.partition({"backbone": lrjax.adam(lr), "head": lrjax.sgd(2 * lr)}, LABELS)

    lrs = jnp.array([0.1, 0.2, 0.3])
    states = jax.vmap(lambda lr: _steps(make(lr), 1))(lrs)
    rates = lrjax.applied_lr(states)
    np.testing.assert_allclose(rates["backbone"], lrs, rtol=1e-6)
    np.testing.assert_allclose(rates["head"], 2 * lrs, rtol=1e-6)


# The sweep records one curve per group, and NaN (not a product) as the single rate.

X = jax.random.normal(jax.random.key(0), (32, 3))
Y = X @ jnp.array([1.0, -2.0, 0.5]) + 0.3
BATCHES = {"x": X.reshape(8, 4, 3), "y": Y.reshape(8, 4)}
MODEL_LABELS = {"w": "backbone", "b": "head"}


def _grouped(hp):
    return optax.partition(
        {
            "backbone": lrjax.adam(S.cosine_decay(hp["peak"], 8)),
            "head": lrjax.sgd(10 * hp["peak"]),
        },
        MODEL_LABELS,
    )


def _init(hp):
    p = {"w": jnp.zeros(3), "b": jnp.zeros([])}
    return p, _grouped(hp).init(p)


def _step(carry, batch, hp):
    p, state = carry

    def loss(p):
        return jnp.mean((batch["x"] @ p["w"] + p["b"] - batch["y"]) ** 2)

    value, g = jax.value_and_grad(loss)(p)
    u, state = _grouped(hp).update(g, state, p)
    return (optax.apply_updates(p, u), state), value


def test_sweep_records_each_groups_rate():
    peaks = jnp.array([0.01, 0.05])
    result = run(_init, _step, {"peak": peaks}, BATCHES)
    assert set(result.group_lrs) == {"backbone", "head"}
    assert np.isnan(result.lrs).all()
    for i, peak in enumerate(peaks):
        np.testing.assert_allclose(
            result.group_lrs["backbone"][i], S.cosine_decay(peak, 8)(jnp.arange(8)), rtol=1e-6
        )
        np.testing.assert_allclose(result.group_lrs["head"][i], np.full(8, 10 * peak), rtol=1e-6)


def test_sweep_without_groups_has_no_group_rates():
    def init(hp):
        p = jnp.zeros(3)
        return p, lrjax.sgd(hp["lr"]).init(p)

    def step(carry, batch, hp):
        p, state = carry
        value, g = jax.value_and_grad(lambda p: jnp.mean((batch["x"] @ p - batch["y"]) ** 2))(p)
        u, state = lrjax.sgd(hp["lr"]).update(g, state, p)
        return (optax.apply_updates(p, u), state), value

    result = run(init, step, {"lr": jnp.array([0.1, 0.2])}, BATCHES)
    assert result.group_lrs == {}
    np.testing.assert_allclose(result.lrs, [[0.1] * 8, [0.2] * 8], rtol=1e-6)


@pytest.mark.parametrize(
    "opt, expected",
    [
        (lrjax.sgd(0.1, 0.9), 0.1),
        (lrjax.adam(0.1), 0.1),
        (optax.chain(lrjax.adam(0.1), A.scale_by_loss(1.0)), 0.1 / np.sqrt(2.0)),
    ],
    ids=["sgd_momentum", "adam", "adam+scale_by_loss"],
)
def test_params_named_like_state_fields_are_not_read_as_states(opt, expected):
    """A LayerNorm's ``{"scale": ...}`` has the field names of ScaleByLossState and
    ``{"step": ...}`` those of PolyakState; inside a moment they are params, not states.
    They were read as states: sgd with momentum reported [0.1, 0.1], adam [1e-5, 1e-5]."""
    params = {"norm": {"scale": jnp.ones(2)}, "polyak": {"step": jnp.ones(3)}}
    opt = optax.with_extra_args_support(opt)
    _, state = opt.update(params, opt.init(params), params, value=jnp.asarray(1.0))
    rate = lrjax.applied_lr(state)
    assert jnp.shape(rate) == ()
    assert float(rate) == pytest.approx(expected, rel=1e-6)
