"""Tasks as values: a task written outside lrjax through ``lrjax sweep --task`` with every
search, the ``[space]`` table, the rows and figures that follow the space, and the range
test of a maximised metric (issue 17).

The user's task is tests/user_task/regression.py, copied into a temporary folder so
that it is imported from outside lrjax and outside the tests' package; it is a real
training (plain JAX, SGD with momentum), not a stand-in.
"""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from lrjax import cli, finder
from lrjax.job import figures, searches
from lrjax.sweep import space as sp
from lrjax.sweep.result import SweepResult
from lrjax.sweep.task import Task, load

pytest.importorskip("matplotlib")

USER_TASK = Path(__file__).parent / "user_task" / "regression.py"


@pytest.fixture
def user_task(tmp_path):
    """The user's task file in a folder of its own."""
    folder = tmp_path / "users_code"
    folder.mkdir()
    return Path(shutil.copy(USER_TASK, folder / "my_regression.py"))


def rows_of(out: Path) -> list[dict]:
    with open(out / "results.csv") as f:
        return list(csv.DictReader(f))


def run_cli(capsys, *argv) -> str:
    assert cli.main([*argv, "--quiet"]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_a_users_task_file_sweeps_tests_and_reports(tmp_path, capsys, user_task):
    out = tmp_path / "sample"
    printed = run_cli(capsys, "--task", f"{user_task}:task", "--out", str(out))
    rows = rows_of(out)
    assert len(rows) == 3 * 2 * 3  # lr x schedule (named) x momentum, the task's grid
    assert {r["schedule"] for r in rows} == {"constant", "cosine"}
    scores = [float(r["val_mse"]) for r in rows if r["diverged"] == "False"]
    assert scores == sorted(scores) and rows[0]["diverged"] == "False"
    text = (out / "report.md").read_text()
    assert text.startswith("# lrjax sweep: linear regression (a user's task)")
    gap = float(text.split("the search's value, to ")[1].split(")")[0])
    assert gap < 1e-5  # the winner trained again alone gives the sweep's number
    # the winner beats the task's baseline (plain SGD at 1e-3 for 30 steps) by far
    winner = float(printed.split("test_mse ")[1].split(",")[0])
    line = next(x for x in text.splitlines() if x.startswith("| plain SGD at 1e-3"))
    assert winner < 0.1 * float(line.split("|")[2]) and "better" in line
    for section in ("## Search space", "## Best per schedule", "## Learning-rate range test"):
        assert section in text
    assert "- `schedule`: one of constant, cosine" in text
    for image in ("heatmap.png", "score_curves.png", "lr_curves.png", "range_test.png"):
        assert (out / image).stat().st_size > 10_000 and f"]({image})" in text


@pytest.mark.parametrize(
    "search, image, section",
    [
        ("halving", "halving.png", "## Successive halving"),
        ("pbt", "pbt.png", "## Population-based training"),
        ("bayes", "history.png", "## Bayesian optimization"),
    ],
)
def test_a_users_task_file_with_each_search(tmp_path, capsys, user_task, search, image, section):
    if search == "bayes":
        pytest.importorskip("optuna")
    out = tmp_path / search
    argv = ["--task", f"{user_task}:task", "--search", search, "--out", str(out)]
    argv += ["--eval-every", "5", "--trials", "8", "--round-size", "4", "--no-range-test"]
    run_cli(capsys, *argv)
    rows = rows_of(out)
    text = (out / "report.md").read_text()
    assert section in text and (out / image).stat().st_size > 10_000
    assert "## The winner against the peers' defaults" in text
    if search == "halving":
        # 18 members, rungs at 3, 10, 30 steps: 18 -> 6 -> 2
        steps = [int(r["steps"]) for r in rows]
        assert [steps.count(e) for e in (3, 10, 30)] == [12, 4, 2]
        assert steps == sorted(steps, reverse=True)
        assert f"{18 * 3 + 6 * 7 + 2 * 20} member-steps" in text
    if search == "pbt":
        assert len(rows) == 18 and "after every 5 steps" in text
        assert "Trained from the start, it reaches val_mse" in text
    if search == "bayes":
        assert len(rows) == 8 and "proposed 8 trials in rounds of 4" in text
        lrs = [float(r["lr"]) for r in rows]
        assert all(1e-3 <= lr <= 3.0 for lr in lrs) and len(set(lrs)) == 8


def test_a_task_factory_by_module_name_takes_its_options(tmp_path, capsys, user_task, monkeypatch):
    """``module:function``: the function gets the [task] options, --steps and --seed."""
    monkeypatch.syspath_prepend(str(user_task.parent))
    config = tmp_path / "job.toml"
    config.write_text(
        'sampler = "random"\npopulation = 6\n[task]\nname = "my_regression:make"\n'
        'noise = 0.5\n[space]\nschedule = "cosine"\nmomentum = 0.5\n'
    )
    out = tmp_path / "factory"
    run_cli(capsys, "--config", str(config), "--steps", "12", "--out", str(out), "--no-range-test")
    rows = rows_of(out)
    assert len(rows) == 6 and {r["schedule"] for r in rows} == {"cosine"}
    assert {float(r["momentum"]) for r in rows} == {0.5}
    text = (out / "report.md").read_text()
    assert "trained for 12 steps" in text
    # the option reached the task: with noise 0.5 the best validation MSE is near 0.25
    assert float(rows[0]["val_mse"]) > 0.1
    assert cli.main(["--task", "my_regression:make", "--option", "nois=1", "--quiet"]) == 2
    assert "takes no option 'nois'; it takes: steps, seed, noise" in capsys.readouterr().err


def test_a_whole_program_task_samples_and_refuses_the_stepwise_searches(tmp_path, capsys):
    """A task with only ``train(hp)``: ``--search sample`` runs it through run_train;
    halving needs steps and says so in one line."""
    import jax.numpy as jnp

    from lrjax.sweep import space

    def train(hp):
        steps = jnp.arange(20.0)
        return {"loss": (hp["x"] - 1.0) ** 2 + 0.0 * steps}

    task = Task(name="parabola", space={"x": space.uniform(-1.0, 3.0)}, train=train)
    options = cli.config_from_args(["--out", str(tmp_path), "--no-range-test", "--quiet"])
    whole = searches.Job(task, task.space, _filled(options), tmp_path, lambda *a: None)
    found = searches.sample(whole)
    best = found.rows[found.order[0]]
    assert len(found.rows) == 3 and best["x"] == pytest.approx(1.0)  # -1, 1, 3
    assert best["loss"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="--search halving needs the task's init and step"):
        searches.halving(whole)


def _filled(options):
    import dataclasses

    return dataclasses.replace(options, sampler="grid", points=3, search="sample", seed=0)


def test_load_refuses_what_is_not_a_task(tmp_path):
    path = tmp_path / "bad_task.py"
    path.write_text("def task():\n    return 5\n\nNOT = 3\n")
    with pytest.raises(ValueError, match="returned int, not a Task"):
        load(f"{path}:task")
    with pytest.raises(ValueError, match="neither a Task nor a function"):
        load(f"{path}:NOT")
    with pytest.raises(TypeError, match="init and step .step by step. or train"):
        Task(name="x", space={})
    with pytest.raises(TypeError, match="needs batches or steps=N"):
        Task(name="x", space={}, init=lambda hp: 0, step=lambda c, hp: (c, 0.0))
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        Task(name="x", space={}, train=lambda hp: {}, mode="up")


# --------------------------------------------------------------------------------------
# The space written as data


def test_the_space_table_parses_every_kind_and_names():
    labels = {"opt": ("sgd", "adam", "lion"), "inner/kind": ("a", "b")}
    table = {
        "lr": {"log_uniform": [1e-4, 1.0]},
        "wd": {"uniform": [0, 0.1]},
        "warmup": {"int_uniform": [0, 100]},
        "opt": ["adam", "lion"],
        "b2": 0.999,
        "first": "sgd",
        "inner": {"kind": {"choice": ["b"]}, "m": [0.8, 0.9]},
    }
    labels["first"] = labels["opt"]
    specs = sp.parse(table, labels)
    assert specs["lr"] == sp.log_uniform(1e-4, 1.0) and specs["wd"] == sp.uniform(0.0, 0.1)
    assert specs["warmup"] == sp.int_uniform(0, 100)
    assert specs["opt"] == sp.choice([1, 2]) and specs["first"] == 0 and specs["b2"] == 0.999
    assert specs["inner"] == {"kind": sp.choice([1]), "m": sp.choice([0.8, 0.9])}
    hp = sp.grid(specs, 2)
    assert set(np.asarray(hp["opt"]).tolist()) == {1, 2} and hp["opt"].dtype == np.int32


@pytest.mark.parametrize(
    "table, words",
    [
        ({"opt": ["adam", 1]}, ["'opt'", "takes names", "sgd, adam", "1"]),
        ({"opt": {"uniform": [0, 1]}}, ["'opt'", "takes names"]),
        ({"lr": ["adam"]}, ["'lr'", "'adam' is a name", "numbers"]),
        ({"lr": {"log_uniform": [1]}}, ["'lr'", "[low, high]", "[1]"]),
        ({"lr": {"uniform": [2, 1]}}, ["'lr'", "low", "high"]),
        ({"lr": float("nan")}, ["'lr'", "finite"]),
        ({"lr": None}, ["'lr'", "None"]),
        ({"opt": "rmsprop"}, ["unknown name 'rmsprop'", "sgd, adam"]),
    ],
)
def test_bad_space_entries_name_the_entry(table, words):
    with pytest.raises(ValueError) as e:
        sp.parse(table, {"opt": ("sgd", "adam")})
    for word in words:
        assert word in str(e.value), str(e.value)


def test_merge_replaces_entries_and_refuses_unknown_names():
    default = {"lr": sp.log_uniform(1e-3, 1.0), "opt": {"b1": 0.9, "b2": 0.999}}
    merged = sp.merge(default, {"lr": 0.01, "opt": {"b1": [0.8, 0.9]}})
    assert merged == {"lr": 0.01, "opt": {"b1": [0.8, 0.9], "b2": 0.999}}
    with pytest.raises(ValueError, match="'momentum' is not a hyperparameter of this task"):
        sp.merge(default, {"momentum": 0.9})
    assert sp.merge({}, {"anything": 1.0}) == {"anything": 1.0}  # a space left to the config
    assert sp.describe(sp.choice([1, 2]), ("a", "b", "c")) == "one of b, c"
    assert sp.describe(sp.log_uniform(1e-4, 3.0)) == "log-uniform on [0.0001, 3]"


# --------------------------------------------------------------------------------------
# What the report draws and ranks, from the space and the score alone


def test_rows_rank_diverged_members_last_and_the_map_takes_the_two_that_matter(tmp_path):
    """Member 1's loss overflowed; its validation score, though best, says nothing of its
    setting: it ranks last and never wins. The map's axes are the two dimensions whose
    values' median ranks lie furthest apart (here lr and opt; noise is irrelevant)."""
    task = Task(
        name="t",
        space={
            "lr": sp.log_uniform(1e-3, 1.0),
            "opt": sp.choice([0, 1]),
            "noise": sp.uniform(0, 1),
        },
        train=lambda hp: {},
        score="val",
        labels={"opt": ("sgd", "adam")},
    )
    lr = np.array([0.001, 0.01, 0.1, 1.0] * 4)
    opt = np.repeat([0, 1], 8)
    noise = np.tile([0.1, 0.9], 8)
    val = np.abs(np.log10(lr) + 1.0) + 0.5 * opt + 0.001 * noise  # best at lr 0.1, sgd
    val[1] = -5.0
    loss = np.ones((16, 3))
    loss[1, 2] = np.inf
    result = SweepResult(
        {"lr": lr, "opt": opt, "noise": noise},
        {"loss": loss},
        np.zeros((16, 3)),
        {"val": val[:, None]},
        np.array([3]),
        score="val",
    )
    rows = searches.result_rows(task, result)
    order = [int(i) for i in result.ranking()]
    assert order[-1] == 1 and rows[order[0]]["lr"] == 0.1 and rows[order[0]]["opt"] == "sgd"
    spread, _ = figures.importance(rows, sp.dimensions(task.space), "val", "min")
    assert spread["noise"] < spread["opt"] and spread["noise"] < spread["lr"]
    fake = searches.Job(task, task.space, None, tmp_path, print)
    [(caption, path)] = figures.space_map(fake, rows)
    assert caption.startswith("val over lr x opt, best over noise") and path.stat().st_size > 5000


# --------------------------------------------------------------------------------------
# The range test of a maximised metric (an RL return)


def test_a_return_that_collapses_is_cut_where_it_fell_fourfold():
    """With loss = -return the old cut (``> 4 x best``) never fired on a negative best;
    in the metric's own direction a return that peaked near 400 diverges below 100."""
    lrs = np.geomspace(1e-5, 1.0, 100)
    returns = np.concatenate([np.linspace(20, 400, 60), np.linspace(400, 10, 40)])
    test = finder.record(lrs, returns, beta=0.0, debias=False, diverge_th=4.0, mode="max")
    assert test.stop_index is not None and returns[test.stop_index] < 100
    assert returns[test.stop_index - 1] >= 100 and test.best_loss == pytest.approx(400)
    old_rule = -returns > 4.0 * np.minimum.accumulate(-returns)  # fastai's, on -return
    assert np.flatnonzero(old_rule)[0] == 0  # -20 > 4 x -20: it kept one point
    negated = finder.record(lrs, -returns, beta=0.0, debias=False, diverge_th=4.0)
    assert negated.stop_index == test.stop_index  # the sign-aware rule reads it either way
    # the suggestions read the maximised metric as a loss: the rise is the valley
    assert 1e-5 < finder.suggest(test, "valley") < lrs[60]
    assert finder.suggest(test, "minimum") == pytest.approx(lrs[59] / 10)


def test_the_min_rule_is_unchanged_for_positive_losses():
    losses = np.array([2.0, 1.0, 0.5, 1.9, 2.1])
    assert finder.divergence_index(losses, 4.0) == 4  # 2.1 > 4 x 0.5
    assert finder.divergence_index(-losses, 4.0, mode="max") == 4


# --------------------------------------------------------------------------------------
# The built-in tasks of other kinds, end to end (minutes each: the slow suite)


@pytest.mark.slow
def test_cartpole_from_the_command_line_retrains_the_winner_over_five_seeds(tmp_path, capsys):
    pytest.importorskip("gymnax")
    out = tmp_path / "cartpole"
    printed = run_cli(capsys, "--task", "cartpole", "--out", str(out))
    winner = float(printed.split("test_return ")[1].split(",")[0])
    assert winner > 150  # a random policy balances about 22 steps
    text = (out / "report.md").read_text()
    assert "## The winner against the peers' defaults" in text
    assert "| PureJaxRL's CartPole setting" in text and "| optax.adam(1e-3)" in text
    assert "recording return at every step" in text and "highest is best" in text
    assert len(rows_of(out)) == 32


@pytest.mark.slow
def test_charlm_from_the_command_line_beats_adam_at_1e_3_on_test_bits(tmp_path, capsys):
    out = tmp_path / "charlm"
    printed = run_cli(capsys, "--task", "charlm", "--out", str(out))
    winner = float(printed.split("test_bpc ")[1].split(",")[0])
    text = (out / "report.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("| optax.adam(1e-3)"))
    assert winner < float(line.split("|")[2]) < 4.0  # both learned; the winner more
    assert len(rows_of(out)) == 4 * 3 * 2
