"""The sweep runner: a vmapped population equals members run one at a time, whatever the
chunking, segmenting or sharding; results convert to rows, CSV and JSON."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.sweep import SweepResult, run

X = jax.random.normal(jax.random.key(0), (64, 4))
Y = X @ jnp.array([1.0, -2.0, 3.0, 0.5])
BATCHES = {"x": X.reshape(16, 4, 4), "y": Y.reshape(16, 4)}  # 16 steps of 4 examples


def _optimizer(hp):
    schedule = lrjax.schedules.warmup(lrjax.schedules.cosine_decay(hp["peak"], 16), hp["warmup"])
    return lrjax.adam(schedule, b1=hp["b1"])


def init(hp):
    w = jnp.zeros(4)
    return w, _optimizer(hp).init(w)


def step(carry, batch, hp):
    w, state = carry
    loss, g = jax.value_and_grad(lambda w: jnp.mean((batch["x"] @ w - batch["y"]) ** 2))(w)
    u, state = _optimizer(hp).update(g, state, w)
    return (optax.apply_updates(w, u), state), loss


def evaluate(carry, hp):
    w, _ = carry
    return {"mse": jnp.mean((X @ w - Y) ** 2)}


HP = {
    "peak": jnp.array([0.01, 0.03, 0.1, 0.3, 0.05]),
    "warmup": jnp.array([0, 2, 4, 0, 8]),
    "b1": jnp.array([0.9, 0.8, 0.9, 0.5, 0.95]),
}


def _single(i):
    hp = jax.tree.map(lambda x: x[i], HP)
    carry, losses = init(hp), []
    for k in range(16):
        carry, loss = step(carry, jax.tree.map(lambda b, k=k: b[k], BATCHES), hp)
        losses.append(float(loss))
    return np.asarray(losses), float(evaluate(carry, hp)["mse"])


@pytest.fixture(scope="module")
def reference():
    return run(init, step, HP, BATCHES, evaluate=evaluate)


def test_population_equals_single_runs(reference):
    for i in range(5):
        losses, mse = _single(i)
        np.testing.assert_allclose(reference.losses[i], losses, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(reference.evals["mse"][i, -1], mse, rtol=1e-5)


def test_learning_rate_curves_are_the_schedules(reference):
    for i in range(5):
        hp = jax.tree.map(lambda x, i=i: x[i], HP)
        sched = lrjax.schedules.warmup(lrjax.schedules.cosine_decay(hp["peak"], 16), hp["warmup"])
        np.testing.assert_allclose(reference.lrs[i], sched(jnp.arange(16)), rtol=1e-6)


@pytest.mark.parametrize("chunk_size, eval_every", [(2, 16), (5, 4), (3, 5)])
def test_chunks_and_segments_do_not_change_results(reference, chunk_size, eval_every):
    result = run(
        init, step, HP, BATCHES, evaluate=evaluate, chunk_size=chunk_size, eval_every=eval_every
    )
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.evals["mse"][:, -1], reference.evals["mse"][:, -1], rtol=1e-6)
    assert result.eval_steps[-1] == 16 and len(result.eval_steps) == -(-16 // eval_every)


def test_rows_csv_and_json(reference, tmp_path):
    rows = reference.rows()
    assert len(rows) == 5 and rows[2]["peak"] == pytest.approx(0.1)
    assert rows[2]["final_train_loss"] == pytest.approx(float(reference.losses[2, -1]))
    assert rows[2]["best_train_loss"] == pytest.approx(float(reference.losses[2].min()))
    reference.to_csv(tmp_path / "r.csv")
    header = (tmp_path / "r.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["b1", "peak", "warmup"] and "final_mse" in header  # sorted keys
    reference.to_json(tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["metrics"]["loss"]) == 5 and len(data["metrics"]["loss"][0]) == 16


SHARDED = """
import jax, numpy as np, sys
sys.path.insert(0, {tests!r})
import test_sweep_run as t
assert jax.device_count() == 8, jax.device_count()
r = t.run(t.init, t.step, t.HP, t.BATCHES, evaluate=t.evaluate, eval_every=8)
np.save({out!r}, r.losses)
"""


def test_sharded_over_eight_devices_equals_unsharded(reference, tmp_path):
    """A fresh process with 8 host devices: the population (5, padded to 8) is sharded."""
    out = tmp_path / "losses.npy"
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    code = SHARDED.format(tests=str(Path(__file__).parent), out=str(out))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    np.testing.assert_allclose(np.load(out), reference.losses, rtol=1e-6, atol=1e-7)


def test_bad_options():
    with pytest.raises(ValueError, match="chunk_size"):
        run(init, step, HP, BATCHES, chunk_size=0)
    with pytest.raises(ValueError, match="eval_every"):
        run(init, step, HP, BATCHES, eval_every=0)


def test_rows_refuse_a_column_filled_twice(reference):
    clash = reference._replace(evals={"train_loss": reference.evals["mse"]})
    with pytest.raises(ValueError, match="'best_train_loss' would be filled twice"):
        clash.rows()
    fine = reference._replace(evals={"loss": reference.evals["mse"]})
    assert fine.rows()[0]["final_loss"] == pytest.approx(float(reference.evals["mse"][0, -1]))


def test_return_carry_and_compiled_programs_are_reused(reference):
    from lrjax.sweep import programs as P

    first = run(init, step, HP, BATCHES, evaluate=evaluate, chunk_size=2, return_carry=True)
    programs = P.start(init), P.advance(init, step, True), P.evaluate(init, evaluate)
    sizes = [p._cache_size() for p in programs]
    again = run(init, step, HP, BATCHES, evaluate=evaluate, chunk_size=2, return_carry=True)
    assert programs == (P.start(init), P.advance(init, step, True), P.evaluate(init, evaluate))
    assert [p._cache_size() for p in programs] == sizes  # nothing recompiled
    np.testing.assert_array_equal(again.losses, first.losses)
    # the returned carries are the members' final states, in population order
    for i in range(5):
        hp = {k: v[i] for k, v in HP.items()}
        alone = init(hp)
        for k in range(16):
            alone, _ = step(alone, jax.tree.map(lambda b, k=k: b[k], BATCHES), hp)
        got = jax.tree.map(lambda x, i=i: x[i], first.carry)
        close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # noqa: E731
        jax.tree.map(close, got, alone)
    assert reference.carry is None


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"eval_every": 2.5}, TypeError, "eval_every must be an integer >= 1, got 2.5"),
        ({"eval_every": True}, TypeError, "eval_every must be an integer >= 1, got True"),
        ({"eval_every": "4"}, TypeError, "eval_every must be an integer >= 1, got '4'"),
        ({"eval_every": -1}, ValueError, "eval_every must be an integer >= 1, got -1"),
        ({"chunk_size": 2.0}, TypeError, "chunk_size must be an integer >= 1, got 2.0"),
        ({"chunk_size": False}, TypeError, "chunk_size must be an integer >= 1, got False"),
    ],
)
def test_host_side_counts_are_integers(kw, error, match):
    """A float or bool count used to reach `range()` or a slice and fail there, naming
    nothing; a NumPy integer is a fine count."""
    with pytest.raises(error, match=match):
        run(init, step, HP, BATCHES, **kw)
    result = run(init, step, HP, BATCHES, eval_every=np.int64(8), chunk_size=np.int32(5))
    assert result.eval_steps.tolist() == [8, 16]


def test_population_and_steps_axes_are_checked():
    ragged = {**HP, "b1": HP["b1"][:3]}
    with pytest.raises(
        ValueError, match=r"hparams: the leaves' leading population axes .*\[3, 5\]"
    ):
        run(init, step, ragged, BATCHES)
    with pytest.raises(ValueError, match="hparams: every leaf needs a leading population axis"):
        run(init, step, {**HP, "b1": jnp.asarray(0.9)}, BATCHES)
    empty = jax.tree.map(lambda x: x[:0], BATCHES)
    with pytest.raises(ValueError, match="batches: the leading step axis is empty"):
        run(init, step, HP, empty)


def _diverging():
    """Two members, three steps: member 1's loss turns NaN at step 1 and its evaluations
    are NaN throughout; rates are NaN for member 0 (no lrjax state) and inf once."""
    nan, inf = float("nan"), float("inf")
    return SweepResult(
        {"peak": np.array([0.1, 10.0], np.float32)},
        {"loss": np.array([[1.0, 0.5, 0.25], [1.0, nan, nan]], np.float32)},
        np.array([[nan, nan, nan], [0.1, inf, -inf]], np.float32),
        {"mse": np.array([[0.4, 0.3], [nan, nan]], np.float32)},
        np.array([2, 3]),
    )


def test_rows_flag_diverged_members_without_warnings():
    result = _diverging()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.nanmin's "All-NaN slice" RuntimeWarning was one
        rows = result.rows()
    assert result.diverged.tolist() == [False, True]
    assert [r["diverged"] for r in rows] == [False, True]
    assert rows[0]["best_mse"] == pytest.approx(0.3) and rows[0]["best_train_loss"] == 0.25
    assert np.isnan(rows[1]["best_mse"]) and np.isnan(rows[1]["final_train_loss"])
    assert rows[1]["best_train_loss"] == 1.0  # the finite steps before it diverged
    inf_only = result._replace(metrics={"loss": np.array([[1.0, 1.0, 1.0], [1.0, np.inf, 2.0]])})
    assert inf_only.diverged.tolist() == [False, True]  # +/-inf counts, not only NaN
    clash = result._replace(hparams={"diverged": np.array([0, 1])})
    with pytest.raises(ValueError, match="'diverged' would be filled twice"):
        clash.rows()


def test_json_is_strict_with_null_for_non_finite_numbers(tmp_path):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    result = _diverging()
    result.to_json(tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text, parse_constant=refuse)
    assert data["metrics"]["loss"] == [[1.0, 0.5, 0.25], [1.0, None, None]]
    assert data["lrs"][1] == [pytest.approx(0.1), None, None] and data["lrs"][0] == [None] * 3
    assert data["evals"]["mse"][1] == [None, None]
    assert data["rows"][1]["diverged"] is True and data["rows"][1]["best_mse"] is None
    assert data["rows"][0]["diverged"] is False and data["eval_steps"] == [2, 3]
