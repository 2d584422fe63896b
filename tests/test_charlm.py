"""The character-level language model task: its data, its model and a sweep of it."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("flax")

import lrjax  # noqa: E402
from lrjax import sweep  # noqa: E402
from lrjax.tasks import charlm  # noqa: E402

TINY = charlm.Config(context=16, width=32, layers=1, heads=2, batch=16, steps=40)
SMALL = (60_000, 4_000, 4_000)


@pytest.fixture(scope="module")
def small():
    return charlm.load(SMALL)


def test_split_is_by_file_deterministic_and_covers_the_folder():
    train, val, test = charlm.split_files()
    assert (train, val, test) == charlm.split_files()
    names = [{p.name for p in split} for split in (train, val, test)]
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    folder = train[0].parent
    assert set().union(*names) == {p.name for p in folder.glob("*.py") if p.is_file()}
    assert all(split == sorted(split) for split in (train, val, test))
    assert len(train) > len(val) > 0 and len(test) > 0
    assert charlm.split_files(seed=1) != (train, val, test)


def test_load_cuts_concatenates_and_encodes(small):
    again = charlm.load(SMALL)
    for split, other, n, files in zip(small, again, SMALL, charlm.split_files(), strict=True):
        assert split.dtype == np.int32 and len(split) == n
        np.testing.assert_array_equal(split, other)
        assert 0 <= split.min() and split.max() < charlm.VOCAB
        first = files[0].read_bytes()[:n]
        np.testing.assert_array_equal(split[: len(first)], charlm.encode(first))


def test_vocabulary():
    ids = charlm.encode(b" ~a\t\n\r\xc3\xa9")
    np.testing.assert_array_equal(ids, [0, 94, ord("a") - 32, 95, 96, 97, 97, 97])
    text = "def f(x):\n\treturn x ~ 1\n"
    assert charlm.decode(charlm.encode(text.encode())) == text


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="Config.width"):
        charlm.Config(width=0)
    with pytest.raises(ValueError, match="Config.steps"):
        charlm.Config(steps=2.5)
    with pytest.raises(ValueError, match="Config.heads"):
        charlm.Config(width=64, heads=3)


def test_a_later_token_does_not_change_earlier_logits():
    model = charlm.Transformer(TINY)
    ids = jax.random.randint(jax.random.key(0), (2, TINY.context), 0, charlm.VOCAB)
    t = 9
    changed = ids.at[:, t].set((ids[:, t] + 1) % charlm.VOCAB)

    @jax.jit
    def logits(ids, changed):
        params = model.init(jax.random.key(1), ids)
        return model.apply(params, ids), model.apply(params, changed)

    before, after = logits(ids, changed)
    np.testing.assert_array_equal(before[:, :t], after[:, :t])
    assert not np.allclose(before[:, t:], after[:, t:])


def test_each_optimizer_branch_is_the_lrjax_optimizer():
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.ones(3)}
    grads = [jax.tree.map(lambda p, i=i: jnp.sin(p * (i + 1)), params) for i in range(3)]

    def train(opt):
        p, state = params, opt.init(params)
        for g in grads:
            u, state = opt.update(g, state, p)
            p = jax.tree.map(jnp.add, p, u)
        return p, lrjax.applied_lr(state)

    @jax.jit
    def both():
        out = []
        for index in range(3):
            hp = {"peak": 0.05, "family": 1, "optimizer": index, "warmup": 1}
            rate = charlm.schedule(hp, 10)
            peer = [lrjax.adamw(rate, weight_decay=0.1), lrjax.adam(rate), lrjax.sgd(rate, 0.9)]
            out.append((train(charlm.optimizer(hp, 10)), train(peer[index])))
        return out

    for mine, theirs in both():
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), mine, theirs)


def expected_rate(family: int, peak: float, warm: int, steps: int, k: int) -> float:
    """The schedule formulas, written out (not lrjax's code)."""
    if k < warm:
        return peak * k / warm
    if family == 0:
        return peak * 0.5 * (1 + math.cos(math.pi * min((k - warm) / (steps - warm), 1)))
    if family == 1:
        cool = steps // 5
        start = steps - cool
        return peak if k < start else peak * (1 - math.sqrt((k - start) / cool))
    if family == 2:
        return peak / math.sqrt(1 + (k - warm) / max(warm, 1))
    return peak  # 3: constant after the warmup


@pytest.mark.slow  # 12 s, nearly all compiling the vmapped program
def test_a_sweep_of_families_and_optimizers_learns_on_schedule(small):
    init, step, evaluate, batches = charlm.make_step(TINY, small)
    assert batches.shape == (TINY.steps, TINY.batch) and batches.dtype == jnp.int32
    members = [  # (family, optimizer, peak, warmup)
        (0, 0, 1e-2, 10),
        (1, 1, 1e-2, 6),
        (2, 2, 0.5, 0),
        (3, 1, 3e-3, 4),
    ]
    hp = {
        name: jnp.asarray([m[i] for m in members])
        for i, name in enumerate(("family", "optimizer", "peak", "warmup"))
    }
    result = sweep.run(init, step, hp, batches, evaluate=evaluate, eval_every=20, score="val_bpc")

    loss = result.metrics["loss"]
    assert loss.shape == (4, TINY.steps)
    assert np.all(loss[:, :3].mean(1) > loss[:, -10:].mean(1) + 0.5)
    np.testing.assert_allclose(loss[:, 0], math.log(charlm.VOCAB), atol=0.2)
    val = result.evals["val_bpc"]
    assert val.shape == (4, 2) and np.all(val[:, -1] < math.log2(charlm.VOCAB) - 1.0)

    for m, (family, _, peak, warm) in enumerate(members):
        for k in (0, 3, 6, 10, 20, 31, 32, 35, 39):
            expected = expected_rate(family, peak, warm, TINY.steps, k)
            assert result.lrs[m, k] == pytest.approx(expected, rel=1e-5, abs=1e-9), (m, k)


def test_test_bpc_of_initial_weights_is_near_uniform(small):
    ids = jnp.zeros((1, TINY.context), jnp.int32)
    params = jax.jit(charlm.Transformer(TINY).init)(jax.random.key(0), ids)
    bpc = charlm.test_bpc(params, small, TINY)
    assert bpc == pytest.approx(math.log2(charlm.VOCAB), abs=0.3)


@pytest.mark.slow
def test_default_config_learns_python():
    data = charlm.load()
    init, step, evaluate, batches = charlm.make_step(charlm.Config(), data)
    hp = {
        "peak": jnp.array([3e-3]),
        "family": jnp.array([0]),
        "optimizer": jnp.array([0]),
        "warmup": jnp.array([100]),
    }
    result = sweep.run(
        init, step, hp, batches, evaluate=evaluate, score="val_bpc", return_carry=True
    )
    params = jax.tree.map(lambda x: x[0], result.carry[0])
    val, test = float(result.evals["val_bpc"][0, -1]), charlm.test_bpc(params, data)
    print(f"val_bpc {val:.3f} test_bpc {test:.3f}")
    assert val < 2.7 and test < 2.6  # measured: 2.475 and 2.319 (Python 3.11.7, CPU)
