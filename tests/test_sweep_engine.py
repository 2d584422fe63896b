"""The sweep engine's contracts: steps without batches, metrics dicts and a score with a
direction, one compiled program whatever the segment lengths, the whole-program form,
callbacks, checkpoints and resume (bitwise), and replaying one member bitwise."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax import sweep
from lrjax.sweep import programs

pytest.importorskip("orbax.checkpoint")

X = jax.random.normal(jax.random.key(0), (64, 4))
Y = X @ jnp.array([1.0, -2.0, 3.0, 0.5])
BATCHES = {"x": X.reshape(16, 4, 4), "y": Y.reshape(16, 4)}
HP = {"lr": jnp.asarray(np.geomspace(1e-3, 0.3, 5), jnp.float32), "b1": jnp.full(5, 0.9)}


def _opt(hp):
    return lrjax.adam(lrjax.schedules.cosine_decay(hp["lr"], 16), b1=hp["b1"])


def init(hp):
    w = jnp.zeros(4)
    return w, _opt(hp).init(w)


def _mse(w, x, y):
    return jnp.mean((x @ w - y) ** 2)


def step(carry, batch, hp):
    w, state = carry
    loss, g = jax.value_and_grad(_mse)(w, batch["x"], batch["y"])
    u, state = _opt(hp).update(g, state, w)
    return (optax.apply_updates(w, u), state), {"loss": loss, "gnorm": optax.tree.norm(g)}


def evaluate(carry, hp):
    return {"mse": _mse(carry[0], X, Y), "r": -_mse(carry[0], X, Y)}


# A batch-less member: it draws its own data from a key in the carry, as RL loops do.
def rl_init(hp):
    return jnp.zeros(2), jax.random.key(0), lrjax.sgd(hp["lr"]).init(jnp.zeros(2))


def rl_step(carry, hp):
    w, key, state = carry
    key, sub = jax.random.split(key)
    target = jnp.array([1.0, -1.0]) + 0.1 * jax.random.normal(sub, (2,))
    loss, g = jax.value_and_grad(lambda w: jnp.sum((w - target) ** 2))(w)
    u, state = lrjax.sgd(hp["lr"]).update(g, state, w)
    return (optax.apply_updates(w, u), key, state), {"return": -loss}


def _alone(i, steps=16):
    """Member i trained by a plain Python loop, without the engine."""
    hp = jax.tree.map(lambda x: x[i], HP)
    carry, losses, norms = init(hp), [], []
    for k in range(steps):
        carry, m = step(carry, jax.tree.map(lambda b, k=k: b[k], BATCHES), hp)
        losses.append(float(m["loss"]))
        norms.append(float(m["gnorm"]))
    return np.asarray(losses), np.asarray(norms), float(evaluate(carry, hp)["mse"])


def test_metrics_dicts_and_a_maximised_score():
    result = sweep.run(
        init, step, HP, BATCHES, evaluate=evaluate, eval_every=5, score="r", mode="max"
    )
    assert set(result.metrics) == {"loss", "gnorm"} and result.eval_steps.tolist() == [
        5,
        10,
        15,
        16,
    ]
    for i in range(5):
        losses, norms, mse = _alone(i)
        np.testing.assert_allclose(result.losses[i], losses, rtol=1e-5)
        np.testing.assert_allclose(result.metrics["gnorm"][i], norms, rtol=1e-5)
        np.testing.assert_allclose(result.evals["mse"][i, -1], mse, rtol=1e-5)
    # the largest rate fits best; "max" ranks by -mse, highest first
    np.testing.assert_array_equal(result.scores(), result.evals["r"][:, -1])
    assert result.best == int(np.argmax(result.evals["r"][:, -1])) == 4
    rows = result.rows()
    assert rows[4]["score"] == pytest.approx(float(result.evals["r"][4, -1]))
    assert rows[0]["best_r"] == pytest.approx(float(result.evals["r"][0].max()))  # max: best
    flipped = result._replace(mode="min")
    assert flipped.best == 0 and flipped.rows()[0]["best_r"] == pytest.approx(
        float(result.evals["r"][0].min())
    )


def test_steps_without_batches():
    hp = {"lr": jnp.array([0.01, 0.1, 0.5])}
    result = sweep.run(rl_init, rl_step, hp, steps=20, eval_every=7, score="return", mode="max")
    assert result.metrics["return"].shape == (3, 20) and result.eval_steps.tolist() == [7, 14, 20]
    np.testing.assert_allclose(result.lrs, np.repeat(hp["lr"][:, None], 20, 1), rtol=1e-7)
    alone = []
    for i in range(3):  # equal to a plain loop
        carry, returns = rl_init({"lr": hp["lr"][i]}), []
        for _ in range(20):
            carry, m = rl_step(carry, {"lr": hp["lr"][i]})
            returns.append(float(m["return"]))
        alone.append(returns)
    alone = np.asarray(alone)
    np.testing.assert_allclose(result.metrics["return"], alone, rtol=1e-5, atol=1e-6)
    # the score of a per-step metric: the mean of its last quarter (5 of 20 steps)
    np.testing.assert_allclose(result.scores(), alone[:, -5:].mean(axis=1), rtol=1e-5)
    assert result.best == int(np.argmax(alone[:, -5:].mean(axis=1)))
    np.testing.assert_array_equal(result.ranking(), np.argsort(-result.scores(), kind="stable"))


def _compiles(caplog, fn):
    """The number of programs XLA compiled for the engine's step (`advance`) in fn()."""
    caplog.clear()
    with jax.log_compiles(), caplog.at_level("WARNING"):
        fn()
    return sum("Compiling jit(member)" in r.getMessage() for r in caplog.records)


def test_one_program_whatever_the_segments_and_steps(caplog):
    """Segments of any length (eval_every, the shorter last one, the total) reuse one
    compiled program per population shape; before, each length compiled again."""
    hp = {"lr": jnp.array([0.01, 0.11, 0.5])}

    def fresh_step(carry, hp):  # a function of its own: no program cached yet
        return rl_step(carry, hp)

    def sweeps():
        for steps, every in [(10, 3), (10, 4), (37, 5), (300, 300), (7, 1)]:
            sweep.run(rl_init, fresh_step, {"lr": hp["lr"] * 0.5}, steps=steps, eval_every=every)

    assert _compiles(caplog, sweeps) == 1
    # a population of another size is another shape: one more program
    more = lambda: sweep.run(rl_init, fresh_step, {"lr": jnp.array([0.1, 0.2])}, steps=5)  # noqa: E731
    assert _compiles(caplog, more) == 1


def test_segmenting_does_not_change_results():
    """Blocks of `programs.BLOCK` steps and segments of any length give the same numbers
    as one segment: the per-step arithmetic is the same program."""
    hp = {"lr": jnp.array([0.01, 0.1, 0.5])}
    steps = programs.BLOCK + 40
    one = sweep.run(rl_init, rl_step, hp, steps=steps)
    many = sweep.run(rl_init, rl_step, hp, steps=steps, eval_every=33)
    np.testing.assert_array_equal(one.metrics["return"], many.metrics["return"])


def test_the_whole_program_form_equals_the_step_form():
    def train(hp):
        def body(carry, _):
            return rl_step(carry, hp)

        _, metrics = jax.lax.scan(body, rl_init(hp), None, length=20)
        return {"return": metrics["return"], "final": metrics["return"][-1]}

    hp = {"lr": jnp.array([0.01, 0.1, 0.5, 0.3, 0.05])}
    seen = []
    whole = sweep.run_train(
        train, hp, score="return", mode="max", chunk_size=2, callback=seen.append
    )
    # unchunked, the whole-program form is the hand-written program, bitwise
    by_hand = jax.jit(jax.vmap(train))(hp)
    plain = sweep.run_train(train, hp, score="return")
    np.testing.assert_array_equal(plain.metrics["return"], by_hand["return"])

    steps = sweep.run(rl_init, rl_step, hp, steps=20, score="return", mode="max")
    assert whole.metrics["return"].shape == (5, 20) and whole.metrics["final"].shape == (5,)
    np.testing.assert_allclose(whole.metrics["return"], steps.metrics["return"], rtol=1e-5)
    np.testing.assert_array_equal(whole.ranking(), steps.ranking())
    assert [s.members.tolist() for s in seen] == [[0, 1], [2, 3], [4]]
    assert all(s.search == "train" and s.stop == 20 for s in seen)
    assert whole.rows()[2]["final_final"] == pytest.approx(float(whole.metrics["final"][2]))
    by_final = sweep.run_train(train, hp, score="final", mode="max")
    np.testing.assert_array_equal(by_final.scores(), by_final.metrics["final"])
    with pytest.raises(ValueError, match="score 'nope' is not among train's outputs"):
        sweep.run_train(train, hp, score="nope")


def test_callback_sees_every_segment_while_it_runs():
    seen = []
    result = sweep.run(
        init, step, HP, BATCHES, evaluate=evaluate, eval_every=6, chunk_size=3, callback=seen.append
    )
    assert [(s.members.tolist(), s.start, s.stop) for s in seen] == [
        ([0, 1, 2], 0, 6), ([0, 1, 2], 6, 12), ([0, 1, 2], 12, 16),
        ([3, 4], 0, 6), ([3, 4], 6, 12), ([3, 4], 12, 16),
    ]  # fmt: skip
    last = seen[-1]
    np.testing.assert_array_equal(last.metrics["loss"], result.losses[3:, 12:])
    np.testing.assert_array_equal(last.lrs, result.lrs[3:, 12:])
    np.testing.assert_array_equal(last.evals["mse"], result.evals["mse"][3:, -1])
    np.testing.assert_array_equal(last.hparams["lr"], np.asarray(HP["lr"][3:]))


class _Stop(Exception):
    pass


def _stop_after(n):
    seen = []

    def callback(segment):
        seen.append(segment)
        if len(seen) == n:
            raise _Stop

    return callback


def test_run_resumes_bitwise_from_its_checkpoint(tmp_path):
    kw = dict(evaluate=evaluate, eval_every=3, chunk_size=3, return_carry=True)
    whole = sweep.run(init, step, HP, BATCHES, **kw)
    folder = tmp_path / "ckpt"
    with pytest.raises(_Stop):  # interrupted in the first chunk's fourth segment
        sweep.run(init, step, HP, BATCHES, checkpoint=folder, callback=_stop_after(4), **kw)
    with pytest.raises(ValueError, match="holds a sweep's checkpoint; pass resume=True"):
        sweep.run(init, step, HP, BATCHES, checkpoint=folder, **kw)
    seen = []
    resumed = sweep.run(
        init, step, HP, BATCHES, checkpoint=folder, resume=True, callback=seen.append, **kw
    )
    assert (seen[0].start, seen[0].members[0]) == (9, 0)  # from the fourth segment on
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="of another sweep"):
        other = {**HP, "lr": HP["lr"] * 2}
        sweep.run(init, step, other, BATCHES, checkpoint=folder, resume=True, **kw)


def test_halving_and_pbt_resume_bitwise(tmp_path):
    hp = {"lr": jnp.asarray(np.geomspace(1e-3, 0.5, 8), jnp.float32)}
    halving = dict(rungs=[5, 10, 20], score="return", mode="max")
    whole = sweep.successive_halving(rl_init, rl_step, hp, **halving)
    with pytest.raises(_Stop):
        sweep.successive_halving(
            rl_init, rl_step, hp, checkpoint=tmp_path / "h", callback=_stop_after(2), **halving
        )
    resumed = sweep.successive_halving(
        rl_init, rl_step, hp, checkpoint=tmp_path / "h", resume=True, **halving
    )
    assert resumed.best == whole.best
    for a, b in zip(
        whole.scores + whole.survivors, resumed.scores + resumed.survivors, strict=True
    ):
        np.testing.assert_array_equal(a, b)

    pbt = dict(steps=24, ready_every=4, seed=1, score="return", mode="max")
    whole = sweep.pbt(rl_init, rl_step, hp, **pbt)
    with pytest.raises(_Stop):
        sweep.pbt(rl_init, rl_step, hp, checkpoint=tmp_path / "p", callback=_stop_after(3), **pbt)
    resumed = sweep.pbt(rl_init, rl_step, hp, checkpoint=tmp_path / "p", resume=True, **pbt)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(_numbers(a), _numbers(b))


def _numbers(x):
    """A host array of x, a PRNG key array as its key data."""
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(x))
    return np.asarray(x)


def test_a_maximised_halving_keeps_the_highest():
    hp = {"lr": jnp.asarray(np.geomspace(1e-3, 0.5, 8), jnp.float32)}
    result = sweep.successive_halving(
        rl_init, rl_step, hp, rungs=[5, 20], score="return", mode="max"
    )
    full = sweep.run(rl_init, rl_step, hp, steps=5)
    first = full.metrics["return"][:, -1:].mean(axis=1)  # the rung's last quarter: 1 step
    np.testing.assert_array_equal(np.sort(result.survivors[1]), np.sort(np.argsort(-first)[:4]))
    assert result.best == result.survivors[1][np.argmax(result.scores[1])]


def test_replay_reproduces_one_member_bitwise():
    kw = dict(evaluate=evaluate, eval_every=4, chunk_size=2)
    result = sweep.run(init, step, HP, BATCHES, **kw)
    for member in (1, 4):  # a full chunk, and the last, smaller one
        again = sweep.replay(member, HP, init, step, BATCHES, **kw)
        np.testing.assert_array_equal(again.losses[0], result.losses[member])
        np.testing.assert_array_equal(again.evals["mse"][0], result.evals["mse"][member])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: sweep.run(rl_init, rl_step, {"lr": jnp.ones(2)}), TypeError, "steps=N"),
        (lambda: sweep.run(init, step, HP, BATCHES, steps=3), ValueError, "batches hold 16"),
        (lambda: sweep.run(init, step, HP, BATCHES, mode="up"), ValueError, "mode must be"),
        (lambda: sweep.run(init, step, HP, BATCHES, score="acc"), ValueError, "score 'acc'"),
        (lambda: sweep.run(init, step, HP, BATCHES, resume=True), ValueError, "checkpoint="),
        (
            lambda: sweep.run(
                lambda hp: (jnp.zeros(2), None),
                lambda c, hp: ((c[0], c[0].sum()), 1.0),
                {"lr": jnp.ones(2)},
                steps=2,
            ),  # fmt: skip
            ValueError,
            "returned a carry with 2 arrays where init",
        ),
        (
            lambda: sweep.run(
                lambda hp: jnp.zeros(2), lambda c, hp: c, {"lr": jnp.ones(2)}, steps=2
            ),
            TypeError,
            "step must return",
        ),
        (
            lambda: sweep.run(
                lambda hp: jnp.zeros(2), lambda c, hp: (c, "bad"), {"lr": jnp.ones(2)}, steps=2
            ),
            TypeError,
            "scalar loss or a dict",
        ),
        (
            lambda: sweep.run(
                lambda hp: jnp.zeros(2),
                lambda c, hp: (c, {"lr": c.sum()}),
                {"lr": jnp.ones(2)},
                steps=2,
            ),  # fmt: skip
            ValueError,
            "metric 'lr' is a name the engine gives the applied learning rate",
        ),
    ],
)
def test_bad_contracts_say_what_to_do(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_bayesian_search_without_batches_maximises_its_objective():
    pytest.importorskip("optuna")
    from lrjax.sweep import bayes

    def distance(carry, hp):
        return {"closeness": -jnp.sum((carry[0] - jnp.array([1.0, -1.0])) ** 2)}

    found = bayes.search(
        rl_init, rl_step, {"lr": sweep.space.log_uniform(1e-3, 0.9)}, steps=20,
        evaluate=distance, objective="closeness", trials=8, batch_size=4, direction="maximize",
    )  # fmt: skip
    assert [(s.score, s.mode) for s in found.sweeps] == [("closeness", "max")] * 2
    finals = np.concatenate([s.scores() for s in found.sweeps])
    assert found.best_value == pytest.approx(finals.max())
