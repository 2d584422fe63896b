"""The digits task's one-program optimizer: each member follows its own schedule family
and optimizer, exactly as if built alone."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax.schedules as S
from lrjax.sweep import digits
from lrjax.transforms import scale_by_learning_rate

STEPS = 30
PARAMS = {"w": jnp.array([[0.5, -1.0], [2.0, 0.3]]), "b": jnp.array([0.1, -0.2])}


def loss(p, k):
    x = jnp.array([1.0, -2.0]) + 0.1 * k
    return jnp.sum(jnp.tanh(p["w"] @ x + p["b"]) ** 2) + 0.01 * jnp.sum(p["w"] ** 4)


def train(opt):
    def step(carry, k):
        p, s = carry
        g = jax.grad(loss)(p, k)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    return jax.lax.scan(step, (PARAMS, opt.init(PARAMS)), jnp.arange(STEPS, dtype=jnp.float32))[0][
        0
    ]


def test_schedule_families_are_what_their_names_say():
    peak, steps = 0.5, 100
    ks = np.arange(steps)
    curve = {
        name: np.asarray(jax.vmap(digits.schedule(i, peak, steps))(ks))
        for i, name in enumerate(digits.SCHEDULES)
    }
    np.testing.assert_allclose(curve["constant"], peak)
    np.testing.assert_allclose(curve["step"][[0, 32, 33, 66, 99]], [0.5, 0.5, 0.05, 0.005, 5e-4])
    np.testing.assert_allclose(curve["exponential"], peak * 0.01 ** (ks / steps), rtol=1e-5)
    np.testing.assert_allclose(curve["linear"], peak * (1 - ks / steps), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        curve["cosine"], peak * 0.5 * (1 + np.cos(np.pi * ks / steps)), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(curve["warmup_cosine"][:11], peak * np.arange(11) / 10, rtol=1e-6)
    assert curve["one_cycle"].max() == pytest.approx(peak, rel=1e-3)
    assert curve["one_cycle"][0] == pytest.approx(peak / 25)
    np.testing.assert_allclose(curve["wsd"][10:70], peak)
    assert curve["inverse_sqrt"][10] == pytest.approx(peak)
    assert curve["inverse_sqrt"][40] == pytest.approx(peak * np.sqrt(10 / 40))


@pytest.mark.parametrize("opt_index", range(len(digits.DIRECTIONS)))
def test_selected_optimizer_equals_the_plain_chain(opt_index):
    name = list(digits.DIRECTIONS)[opt_index]
    family = digits.SCHEDULES.index("warmup_cosine")
    hp = {"family": family, "optimizer": opt_index, "peak": 0.05}
    expected = train(
        optax.chain(
            digits.DIRECTIONS[name](),
            scale_by_learning_rate(S.warmup(S.cosine_decay(0.05, STEPS - 3), 3)),
        )
    )
    got = train(digits.optimizer(hp, STEPS))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7), got, expected)


def test_a_mixed_population_equals_its_members_run_alone():
    n_opt, n_fam = len(digits.DIRECTIONS), len(digits.SCHEDULES)
    hp = {
        "family": jnp.arange(12) % n_fam,
        "optimizer": jnp.arange(12) % n_opt,
        "peak": jnp.geomspace(1e-3, 0.3, 12),
    }
    together = jax.jit(jax.vmap(lambda h: train(digits.optimizer(h, STEPS))))(hp)
    for i in range(12):
        alone = train(digits.optimizer({k: v[i] for k, v in hp.items()}, STEPS))
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=2e-5, atol=1e-6),
            together,
            alone,
        )


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown schedule 'cosin'"):
        digits.schedule(0, 0.1, 10, ["cosin"])
    hp = {"family": 0, "optimizer": 0, "peak": 0.1}
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        digits.optimizer(hp, 10, optimizers=["adam", "lion"])


def test_task_data_and_batches():
    pytest.importorskip("sklearn")
    data = digits.load(seed=0)
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 1797
    assert data.x_train.min() >= -0.5 and data.x_train.max() <= 0.5
    idx = digits.batch_indices(len(data.x_train), 40, 64, seed=1)
    per_epoch = len(data.x_train) // 64
    assert idx.shape == (40, 64)
    assert len(np.unique(idx[:per_epoch])) == per_epoch * 64  # an epoch has no repeats
