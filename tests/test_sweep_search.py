"""Successive halving and population-based training on a population of SGD runs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.sweep import run
from lrjax.sweep.search import exploit_explore, pbt, successive_halving

A = jnp.diag(jnp.array([1.0, 2.0, 4.0]))
TARGETS = 1 + 0.05 * jax.random.normal(jax.random.key(1), (32, 3))


def init(hp):
    w = jnp.zeros(3)
    return w, lrjax.sgd(hp["lr"]).init(w)


def step(carry, target, hp):
    w, s = carry
    loss, g = jax.value_and_grad(lambda w: 0.5 * (w - target) @ A @ (w - target))(w)
    u, s = lrjax.sgd(hp["lr"]).update(g, s, w)
    return (optax.apply_updates(w, u), s), loss


LRS = {"lr": jnp.asarray(np.geomspace(1e-3, 0.4, 8), jnp.float32), "tag": jnp.arange(8)}


def test_halving_keeps_the_best_and_continues_their_state():
    result = successive_halving(init, step, LRS, TARGETS, rungs=[4, 8, 16], keep=0.5)
    assert [len(s) for s in result.survivors] == [8, 4, 2]
    full = run(init, step, LRS, TARGETS[:16])
    # the survivors of each rung are the best by the rung's score...
    first = np.mean(full.losses[:, 3:4], axis=1)
    np.testing.assert_array_equal(np.sort(result.survivors[1]), np.sort(np.argsort(first)[:4]))
    # ...and their scores (the last quarter of the rung's steps) are those of
    # uninterrupted training: the state was carried over, not restarted
    last = result.survivors[2]
    np.testing.assert_allclose(
        result.scores[2], np.mean(full.losses[last, 14:16], axis=1), rtol=1e-5
    )
    assert result.best == last[np.argmin(result.scores[2])]
    assert LRS["lr"][result.best] > 0.05  # a large stable rate wins on this problem


def test_exploit_explore_copies_and_perturbs():
    n = 8
    scores = jnp.arange(n, dtype=jnp.float32)[::-1]  # member 7 best, member 0 worst
    carry = {"w": jnp.arange(n, dtype=jnp.float32)[:, None] * jnp.ones((n, 2))}
    hp = {"lr": jnp.linspace(0.1, 0.8, n), "tag": jnp.arange(n), "frozen": jnp.ones(n)}
    new_carry, new_hp, source = jax.jit(
        lambda k: exploit_explore(
            k, scores, carry, hp, fraction=0.25, factors=(0.5, 2.0), perturb=lambda p: p != "frozen"
        )
    )(jax.random.key(0))
    bottom, top = [0, 1], [6, 7]
    for i in range(n):
        donor = int(new_hp["tag"][i])
        if i in bottom:
            assert donor in top
            ratio = float(new_hp["lr"][i] / hp["lr"][donor])
            assert ratio == pytest.approx(0.5) or ratio == pytest.approx(2.0)
        else:
            assert donor == i and float(new_hp["lr"][i]) == pytest.approx(float(hp["lr"][i]))
        np.testing.assert_array_equal(new_carry["w"][i], carry["w"][donor])
        assert int(source[i]) == donor
    np.testing.assert_array_equal(new_hp["frozen"], 1.0)  # excluded from perturbation
    np.testing.assert_array_equal(new_hp["tag"], source)  # integers copied, not perturbed


def test_pbt_improves_on_the_median_and_is_reproducible():
    hp = {"lr": jnp.asarray(np.geomspace(1e-3, 0.02, 8), jnp.float32)}
    a = pbt(init, step, hp, TARGETS, ready_every=8, seed=3, fraction=0.25, factors=(1.5, 2.0))
    b = pbt(init, step, hp, TARGETS, ready_every=8, seed=3, fraction=0.25, factors=(1.5, 2.0))
    assert len(a.hparams) == 4 and len(a.scores) == 4
    np.testing.assert_array_equal(a.scores[-1], b.scores[-1])
    plain = run(init, step, hp, TARGETS)
    assert a.scores[-1].min() < np.median(np.mean(plain.losses[:, -2:], axis=1))
    assert float(a.final_hparams["lr"].max()) > float(hp["lr"].max())  # explored upward
    # the lineage of the winner: the slots it descends from, whose rates it inherited
    # (times a factor at each copy)
    winner = int(np.argmin(a.scores[-1]))
    path = a.lineage(winner)
    assert len(path) == 4 and path[-1] == winner and len(a.parents) == 3
    for r in range(3):
        parent, child = path[r], path[r + 1]
        assert int(a.parents[r][child]) == parent
        ratio = a.hparams[r + 1]["lr"][child] / a.hparams[r]["lr"][parent]
        assert any(ratio == pytest.approx(f, rel=1e-6) for f in (1.0, 1.5, 2.0))


def test_halving_keeps_the_rounded_fraction():
    hp = {"lr": jnp.full(90, 0.01)}
    result = successive_halving(init, step, hp, TARGETS, rungs=[4, 8, 12], keep=0.7)
    assert [len(s) for s in result.survivors] == [90, 63, 44]  # 90 * 0.7 = 62.999...


def test_bad_options():
    with pytest.raises(ValueError, match="keep"):
        successive_halving(init, step, LRS, TARGETS, rungs=[4, 8], keep=1.0)
    with pytest.raises(ValueError, match="rungs"):
        successive_halving(init, step, LRS, TARGETS, rungs=[8, 4])
    with pytest.raises(ValueError, match="ready_every"):
        pbt(init, step, LRS, TARGETS, ready_every=0)


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"rungs": [4, 8.5]}, TypeError, r"rungs\[1\] must be an integer >= 1, got 8.5"),
        ({"rungs": [True, 8]}, TypeError, r"rungs\[0\] must be an integer >= 1, got True"),
        ({"rungs": 8}, TypeError, "rungs must be a sequence of step counts, got 8"),
        ({"rungs": []}, ValueError, "at least one"),
        ({"rungs": [0, 8]}, ValueError, r"rungs\[0\] must be an integer >= 1, got 0"),
        ({"rungs": [4, 4, 8]}, ValueError, r"rungs must increase, got \[4, 4, 8\]"),
        ({"rungs": [4, 40]}, ValueError, "rungs end at 40 steps but batches hold 32"),
    ],
)
def test_halving_rungs_are_increasing_step_counts_within_the_batches(kw, error, match):
    """A rung past the batches used to train for fewer steps than it said, silently."""
    with pytest.raises(error, match=match):
        successive_halving(init, step, LRS, TARGETS, **kw)
    done = successive_halving(init, step, LRS, TARGETS, rungs=np.array([4, 32]))
    assert [len(s) for s in done.survivors] == [8, 4]


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"ready_every": 2.5}, TypeError, "ready_every must be an integer >= 1, got 2.5"),
        ({"ready_every": True}, TypeError, "ready_every must be an integer >= 1, got True"),
        ({"ready_every": 8, "seed": 1.0}, TypeError, "seed must be an integer"),
        ({"ready_every": 8, "seed": 2**64}, ValueError, r"seed must be in \[-2\*\*63, 2\*\*63\)"),
    ],
)
def test_pbt_counts_and_seed(kw, error, match):
    with pytest.raises(error, match=match):
        pbt(init, step, LRS, TARGETS, **kw)
