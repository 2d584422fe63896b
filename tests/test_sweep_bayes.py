"""The Optuna driver: every told value is the member's own training result, rounds batch
the asked trials, pruned, failed and interrupted trials are recorded as documented, and a
rerun on persistent storage resumes."""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrjax.sweep import bayes, space
from lrjax.sweep.bayes import BayesResult, search

optuna = pytest.importorskip("optuna")
TrialState = optuna.trial.TrialState
optuna.logging.set_verbosity(optuna.logging.WARNING)

X = jax.random.normal(jax.random.key(0), (64, 4))
Y = X @ jnp.array([1.0, -2.0, 3.0, 0.5])
BATCHES = {"x": X.reshape(16, 4, 4), "y": Y.reshape(16, 4)}  # 16 steps of 4 examples
SPECS = {"lr": space.log_uniform(1e-3, 1.0), "momentum": space.choice([0.0, 0.9])}


def init(hp):
    return jnp.zeros(4), jnp.zeros(4)


def step(carry, batch, hp):
    """Heavy-ball SGD on a least-squares problem."""
    w, v = carry
    loss, g = jax.value_and_grad(lambda w: jnp.mean((batch["x"] @ w - batch["y"]) ** 2))(w)
    v = hp["momentum"] * v + g
    return (w - hp["lr"] * v, v), loss


def evaluate(carry, hp):
    w, _ = carry
    return {"mse": jnp.mean((X @ w - Y) ** 2)}


def reference(lr, momentum, eval_every=4):
    """One member, unvmapped and eager: the mse after every `eval_every` steps."""
    hp = {"lr": jnp.float32(lr), "momentum": jnp.float32(momentum)}
    carry, curve = init(hp), []
    for i in range(16):
        carry, _ = step(carry, jax.tree.map(lambda b, i=i: b[i], BATCHES), hp)
        if (i + 1) % eval_every == 0:
            curve.append(float(evaluate(carry, hp)["mse"]))
    return np.asarray(curve)


def _search(**kw):
    kw = {"evaluate": evaluate, "objective": "mse", "trials": 12, "batch_size": 4} | kw
    specs = kw.pop("specs", SPECS)
    return search(init, step, specs, BATCHES, **kw)


def test_round_trip_values_are_each_members_training():
    r = _search(eval_every=4)
    assert isinstance(r, BayesResult)
    assert len(r.rounds) == 3
    finished = r.study.get_trials(states=(TrialState.COMPLETE, TrialState.FAIL))
    assert len(finished) == len(r.study.trials) == 12 == len(r.history)
    for t in finished:
        curve = reference(t.params["lr"], t.params["momentum"])
        np.testing.assert_allclose(t.user_attrs["final_value"], curve[-1], rtol=1e-5)
        if np.isfinite(curve[-1]):
            assert t.state == TrialState.COMPLETE
            np.testing.assert_allclose(t.value, curve[-1], rtol=1e-5)
            steps = sorted(t.intermediate_values)
            assert steps == [4, 8, 12, 16]
            got = [t.intermediate_values[s] for s in steps]
            np.testing.assert_allclose(got, curve, rtol=1e-5)
        else:
            assert t.state == TrialState.FAIL
    assert r.best_value == np.nanmin(r.history)
    assert set(r.best_params) == {"lr", "momentum"}
    np.testing.assert_allclose(
        r.best_value, reference(r.best_params["lr"], r.best_params["momentum"])[-1], rtol=1e-5
    )
    assert np.all(np.diff(r.best_so_far) <= 0)
    assert r.best_so_far[-1] == r.best_value


def test_nested_specs_constants_and_integers():
    specs = {"opt": {"lr": space.uniform(0.01, 0.1), "momentum": 0.5}, "k": space.int_uniform(1, 3)}

    def step2(carry, batch, hp):
        return step(
            carry, batch, {"lr": hp["opt"]["lr"] * hp["k"], "momentum": hp["opt"]["momentum"]}
        )

    r = search(
        init, step2, specs, BATCHES, evaluate=evaluate, objective="mse", trials=5, batch_size=2
    )
    assert len(r.rounds) == 3 and len(r.history) == 5  # 2 + 2 + 1 (padded to 2)
    assert set(r.best_params) == {"opt/lr", "opt/momentum", "k"}
    assert r.best_params["opt/momentum"] == 0.5
    assert isinstance(r.best_params["k"], int)
    for t in r.study.trials:
        assert set(t.params) == {"opt/lr", "k"}
        expected = reference(t.params["opt/lr"] * t.params["k"], 0.5)[-1]
        np.testing.assert_allclose(t.value, expected, rtol=1e-5)


def test_tpe_is_seeded_and_improves_on_the_worst():
    a = _search(trials=16, seed=3)
    b = _search(trials=16, seed=3)
    np.testing.assert_array_equal(a.history, b.history)
    assert a.best_value < np.nanmax(a.history)


def test_gp_sampler_rounds():
    pytest.importorskip("torch", reason="Optuna's GPSampler needs torch (and scipy)")
    specs = {"lr": space.log_uniform(1e-3, 0.3), "momentum": space.uniform(0.0, 0.9)}

    def gp(seed):
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=4)
        return _search(specs=specs, sampler=sampler, trials=12, batch_size=4)

    r = gp(0)
    assert len(r.rounds) == 3 and len(r.history) == 12
    for t in r.study.trials:  # every told value is that trial's own training
        assert t.state == TrialState.COMPLETE
        np.testing.assert_allclose(t.value, reference(**t.params)[-1], rtol=1e-5)
    # Rounds 2 and 3 are the GP's: all four of a round are asked before any is told, and
    # the sampler must account for the running ones instead of proposing one point 4 times.
    for first in (4, 8):
        asked = {tuple(t.params.values()) for t in r.study.trials[first : first + 4]}
        assert len(asked) == 4
    np.testing.assert_array_equal(gp(0).history, r.history)  # seeded


def test_pruned_and_failed_trials():
    # the first rung with an mse above 5 prunes; Optuna keeps that rung's value
    r = _search(eval_every=4, pruner=optuna.pruners.ThresholdPruner(upper=5.0), trials=8)
    specs = {"lr": space.uniform(50.0, 100.0), "momentum": 0.0}  # diverges to inf
    states = [t.state for t in r.study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    for t in r.study.trials:
        rungs = [t.intermediate_values[s] for s in sorted(t.intermediate_values)]
        curve = reference(t.params["lr"], t.params["momentum"])
        np.testing.assert_allclose(rungs, curve[: len(rungs)], rtol=1e-5)
        np.testing.assert_allclose(t.user_attrs["final_value"], curve[-1], rtol=1e-5)
        if t.state == TrialState.PRUNED:
            assert t.value == rungs[-1] > 5.0 and all(v <= 5.0 for v in rungs[:-1])
            assert np.isnan(r.history[t.number])
        else:
            assert all(v <= 5.0 for v in rungs) and len(rungs) == 4
    f = _search(specs=specs, trials=2, batch_size=2)
    assert [t.state for t in f.study.trials] == [TrialState.FAIL] * 2
    assert all("objective is" in t.user_attrs["fail_reason"] for t in f.study.trials)
    assert np.all(np.isnan(f.history)) and np.isnan(f.best_value) and f.best_params == {}


def test_resume_after_crash(tmp_path):
    path = tmp_path / "study.db"
    first = _search(storage=str(path), trials=8)
    before = [(t.params, t.value, t.state) for t in first.study.trials]
    # a crash: two trials asked, never told
    study = optuna.load_study(study_name="lrjax", storage=f"sqlite:///{path}")
    study.ask(), study.ask()
    assert len(study.get_trials(states=(TrialState.RUNNING,))) == 2
    again = _search(storage=str(path), trials=12)
    trials = again.study.trials
    assert len(trials) == 12 and len(again.rounds) == 1
    assert [(t.params, t.value, t.state) for t in trials[:8]] == before
    assert [t.state for t in trials[8:10]] == [TrialState.FAIL] * 2
    assert all("interrupted" in t.user_attrs["fail_reason"] for t in trials[8:10])
    assert {t.state for t in trials[10:]} <= {TrialState.COMPLETE, TrialState.FAIL}
    assert len(again.history) == 12 and np.isnan(again.history[8:10]).all()
    done = _search(storage=str(path), trials=12)  # nothing left to do
    assert done.rounds == [] and len(done.study.trials) == 12


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"specs": {"lr": "fast"}}, r"specs\['lr'\] must be a spec"),
        ({"specs": {}}, "non-empty"),
        ({"specs": {"a": {}}}, "at least one"),
        ({"trials": 0}, "trials must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"objective": "accuracy"}, r"objective 'accuracy' is not a metric .*\['mse'\]"),
        ({"evaluate": None}, "needs evaluate"),
        ({"direction": "max"}, "direction must be"),
    ],
)
def test_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        _search(**kw)


@pytest.mark.parametrize(
    "seed, error, match",
    [
        (2**32, ValueError, r"seed must be in \[0, 2\*\*32 - 1\] \(TPE's\), got 4294967296"),
        (-1, ValueError, r"seed must be in \[0, 2\*\*32 - 1\]"),
        (True, TypeError, r"seed must be an integer in \[0, 2\*\*32 - 1\], got True"),
        (1.5, TypeError, "got 1.5"),
    ],
)
def test_seed_outside_tpes_range(seed, error, match):
    """TPE seeds a NumPy RandomState, whose own OverflowError/ValueError names nothing."""
    with pytest.raises(error, match=match):
        _search(seed=seed)
    assert _search(seed=2**32 - 1, trials=1).history.shape == (1,)  # the top of the range


def test_storage_that_cannot_be_a_study_is_refused_before_training(tmp_path):
    not_db = tmp_path / "notes.db"
    not_db.write_text("not a database\n")
    cases = [
        (str(tmp_path / "missing" / "study.db"), "its folder .*missing' does not exist"),
        (f"sqlite:///{tmp_path / 'missing' / 'study.db'}", "its folder .*missing' does not"),
        (str(tmp_path), "is a directory; name an SQLite file in it"),
        (not_db, "is not an SQLite database"),
        ("bogus://x", "'bogus://x' cannot be opened: Can't load plugin: sqlalchemy.dialects:bogus"),
    ]
    for storage, match in cases:
        with pytest.raises(ValueError, match=match):
            _search(storage=storage)
    assert not (tmp_path / "missing").exists()
    empty = tmp_path / "empty.db"  # an empty file is a new SQLite database
    empty.touch()
    assert len(_search(storage=empty, trials=1).study.trials) == 1


def test_backend_errors_on_opening_become_one_value_error(tmp_path):
    """What only opening tells (the pre-checks skipped here) is the backend's error's
    first line, under the storage's name, not an SQLAlchemy traceback."""
    options = {"study_name": "s", "load_if_exists": True}
    for storage, match in [
        ("bogus://x", "storage 'bogus://x' cannot be opened: Can't load plugin"),
        (tmp_path, "cannot be opened: .*unable to open database file"),
    ]:
        with pytest.raises(ValueError, match=match) as info:
            bayes._open_study(optuna, storage, **options)
        assert "\n" not in str(info.value)
    assert bayes._open_study(optuna, None, **options).study_name == "s"


def test_study_and_storage_conflict():
    study = optuna.create_study(direction="maximize")
    with pytest.raises(ValueError, match="does not match"):
        _search(study=study)
    with pytest.raises(ValueError, match="not both"):
        _search(study=study, storage="x.db", direction="maximize")


def test_missing_optuna(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install 'lrjax\[optuna\]'"):
        _search()


def test_import_lrjax_needs_no_optuna():
    code = "import sys, lrjax, lrjax.sweep.bayes; assert 'optuna' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rounds_keep_their_curves():
    r = _search(trials=5, batch_size=2)
    assert [s.size for s in r.sweeps] == [2, 2, 1]  # the padded member of the last round dropped
    finals = np.concatenate([s.evals["mse"][:, -1] for s in r.sweeps])
    values = [t.user_attrs["final_value"] for t in r.study.trials]
    np.testing.assert_allclose(finals, values, rtol=1e-6)
