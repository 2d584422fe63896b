"""The main job, ``lrjax sweep``: its options, its errors, and the report it writes for
the default task (digits). A user's own task through every search is in
test_sweep_tasks.py."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from lrjax import cli, job
from lrjax.job import memory, searches

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

TINY = ["--steps", "20", "--points", "2", "--space", 'family=["constant", "cosine"]']


def error_of(capsys, *argv):
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--steps", "-5"], ["steps", "-5", ">= 1"]),
        (["--steps", "5"], ["digits", "steps", "5", ">= 10"]),
        (["--steps", "x"], ["--steps", "'x'"]),
        (["--space", 'family=["constant", "foo"]'], ["family", "'foo'", "cosine"]),
        (["--space", 'optimizer=["adam", "lion"]'], ["optimizer", "'lion'", "momentum"]),
        (["--space", "optimizer=[]"], ["optimizer", "non-empty"]),
        (["--space", 'family=["cosine", "cosine"]'], ["family", "twice"]),
        (["--space", "peak=[0.1, 0.1]"], ["peak", "twice"]),
        (["--space", 'peak={"log_uniform": [1, 0.1]}'], ["peak", "low", "high"]),
        (["--space", 'peak={"log_uniform": [0, 1]}'], ["peak", "low", "> 0", "0.0"]),
        (["--space", 'peak={"sobol": [0, 1]}'], ["peak", "log_uniform", "sobol"]),
        (["--space", "peak=cosine"], ["--space peak", "JSON", "'cosine'"]),
        (["--space", 'peak="cosine"'], ["peak", "'cosine'", "numbers"]),
        (["--space", "beta=0.9"], ["beta", "not a hyperparameter", "family, optimizer, peak"]),
        (["--space", "peak"], ["--space", "NAME=VALUE", "'peak'"]),
        (["--option", "batch=0"], ["digits", "batch", ">= 1"]),
        (["--option", "width=3"], ["digits", "no option 'width'", "steps, seed, batch"]),
        (["--task", "nope"], ["task 'nope'", "digits, cartpole, charlm", "module:attribute"]),
        (["--task", "no_such_module:task"], ["no module named 'no_such_module'"]),
        (["--task", "lrjax.cli:nothing"], ["lrjax.cli has no attribute 'nothing'"]),
        (["--task", "lrjax.cli:SEARCHES"], ["neither a Task nor a function"]),
        (["--task", "/nonexistent/t.py:task"], ["'/nonexistent/t.py' does not exist"]),
        (["--sampler", "sobol"], ["sampler", "halton", "'sobol'"]),
        (["--population", "3"], ["population 3", "24", "cells"]),
        (["--population", "0"], ["population", ">= 1"]),
        (["--points", "0"], ["points", ">= 1"]),
        (["--eval-every", "600", "--steps", "500"], ["eval_every", "exceeds steps"]),
        (["--bogus"], ["unrecognized", "--bogus"]),
        (["--search", "hyperband"], ["search", "halving", "pbt", "bayes", "'hyperband'"]),
        (["--search", "halving", "--keep", "1.5"], ["keep", "1.5", "(0.0, 1.0)"]),
        (["--keep", "0"], ["keep", "(0.0, 1.0)"]),
        (["--search", "bayes", "--trials", "0"], ["trials", ">= 1"]),
        (["--search", "bayes", "--round-size", "-2"], ["round_size", ">= 1"]),
        (["--config", "/nonexistent/c.toml"], ["No such file", "c.toml"]),
    ],
)
def test_bad_options_give_one_line_and_status_2(capsys, argv, words):
    err = error_of(capsys, "sweep", *argv)
    for word in words:
        assert word in err, err


def test_bad_configs(capsys, tmp_path):
    cases = [
        ("a.json", json.dumps({"space": {"optimizer": []}}), ["optimizer", "non-empty"]),
        ("b.json", json.dumps({"stepz": 5}), ["unknown option 'stepz'", "steps"]),
        ("c.toml", "steps = -1\n", ["steps", "-1"]),
        ("d.toml", "steps = \n", ["Invalid"]),
        ("e.yaml", "steps: 5\n", [".toml or .json"]),
        ("f.json", "[1, 2]", ["table of options"]),
        ("g.json", json.dumps({"space": [1]}), ["space", "table", "[1]"]),
        ("h.json", json.dumps({"task": {"batch": "x"}}), ["digits", "batch", "'x'"]),
        ("i.json", json.dumps({"space": {"peak": {"uniform": [1]}}}), ["peak", "[low, high]"]),
        ("j.json", json.dumps({"space": {"peak": True}}), ["peak", "True"]),
    ]
    for name, text, words in cases:
        path = tmp_path / name
        path.write_text(text)
        err = error_of(capsys, "--config", str(path))
        for word in words:
            assert word in err, (name, err)


def test_config_file_and_command_line_merge(tmp_path):
    """The [space] and [task] tables, overridden entry by entry by --space and --option."""
    path = tmp_path / "space.toml"
    path.write_text(
        'steps = 40\nsampler = "halton"\n[space]\nfamily = ["cosine", "one_cycle"]\n'
        'peak = {log_uniform = [0.001, 0.1]}\noptimizer = "adam"\n[task]\nbatch = 32\n'
    )
    argv = ["--config", str(path), "--steps", "30", "--population", "5"]
    config = cli.config_from_args([*argv, "--option", "batch=16", "--space", "peak=0.01"])
    assert (config.steps, config.sampler, config.task_options) == (30, "halton", {"batch": 16})
    assert config.space == {"family": ["cosine", "one_cycle"], "peak": 0.01, "optimizer": "adam"}
    config = cli.config_from_args(argv)
    prepared = job.prepare(config)
    hp = searches.population(prepared.options, prepared.specs)
    assert hp["peak"].shape == (5,)
    assert np.all((hp["peak"] >= 1e-3) & (hp["peak"] <= 0.1))
    from lrjax.sweep import digits

    names = {digits.SCHEDULES[i] for i in np.asarray(hp["family"]).tolist()}
    assert names <= {"cosine", "one_cycle"} and len(names) == 2
    assert set(np.asarray(hp["optimizer"]).tolist()) == {tuple(digits.DIRECTIONS).index("adam")}
    assert prepared.task.batches.shape == (30, 32)  # [task] batch = 32, --steps 30


def test_grid_population_is_rounded_down_to_whole_cells():
    prepared = job.prepare(cli.config_from_args(["--population", "50"]))  # 24 cells: 2 each
    hp = searches.population(prepared.options, prepared.specs)
    assert hp["peak"].shape == (48,)
    np.testing.assert_allclose(sorted(set(np.asarray(hp["peak"]).tolist())), [1e-4, 3.0], rtol=1e-6)


def test_process_exit_status_and_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "lrjax", "sweep", "--steps", "-3"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "lrjax sweep: error: steps must be an integer >= 1, got -3"


def test_a_small_sweep_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    argv = [*TINY, "--space", 'optimizer=["sgd", "adam"]', "--out", str(out), "--quiet"]
    assert cli.main([*argv, "--no-range-test"]) == 0  # the range test: test_sweep_tasks.py
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.md'}" in printed
    for name in ("heatmap.png", "lr_curves.png", "score_curves.png"):
        assert (out / name).stat().st_size > 10_000, name
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2  # schedules x optimizers x rates
    losses = [float(r["val_loss"]) for r in rows]
    assert losses == sorted(losses)  # best first
    diverged = [r["diverged"] for r in rows]
    assert set(diverged) <= {"True", "False"} and diverged == sorted(diverged)  # False first
    assert {r["optimizer"] for r in rows} == {"sgd", "adam"}
    assert {r["family"] for r in rows} == {"constant", "cosine"}
    assert sorted({float(r["peak"]) for r in rows}) == pytest.approx([1e-4, 3.0])
    text = (out / "report.md").read_text()
    best = rows[0]
    assert (
        f"**Best:** {best['family']}, {best['optimizer']}, peak={float(best['peak']):.3g}" in text
    )
    gap = float(text.split("the search's value, to ")[1].split(")")[0])
    assert gap < 1e-5  # trained again alone, the winner reproduces the sweep's number
    for section in (
        "## The winner against the peers' defaults",
        "## Search space",
        "## Best per optimizer",
        "## Best per family",
        "## Top 8 settings",
    ):
        assert section in text
    for image in ("heatmap.png", "lr_curves.png", "score_curves.png"):
        assert f"]({image})" in text


@pytest.mark.slow
def test_the_default_job_finds_a_good_model(tmp_path, capsys):
    """``make demo``: the full default sweep; its winner must be a real classifier, with a
    test loss far below the peers' default's (Adam at a constant 1e-3)."""
    assert cli.main(["--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("test_accuracy ")[1].split(",")[0])
    assert accuracy > 0.95
    text = (tmp_path / "report.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| optax.adam(1e-3)"))
    winner_loss = float(printed.split("test_loss ")[1].split(",")[0])
    assert float(row.split("|")[2]) > 1.5 * winner_loss  # the peers' default: Adam at 1e-3
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 240


# --------------------------------------------------------------------------------------
# Every option checked before any work: kinds, ranges, sizes, the storage (issue 15)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--option", "batch=100000"], ["batch", "1079 training rows", "100000"]),
        (["--seed", "99999999999999999999"], ["seed", "99999999999999999999", "2**32 - 1"]),
        (["--seed", "-1"], ["seed", "-1", "[0, 2**32 - 1]"]),
        (["--steps", "1000000000000"], ["steps", "1000000000000", "2**31 - 1"]),
        (["--storage", "s.db"], ["storage", "'s.db'", "--search bayes only", "None"]),
        (
            ["--search", "bayes", "--storage", "/nonexistent/dir/study.db"],
            ["storage", "'/nonexistent/dir/study.db'", "folder '/nonexistent/dir' does not exist"],
        ),
        (
            ["--search", "bayes", "--storage", "bogus://x"],
            ["storage 'bogus://x'", "cannot be opened", "dialects:bogus"],
        ),
    ],
)
def test_values_out_of_range_are_refused(capsys, argv, words):
    err = error_of(capsys, *argv)
    assert err.startswith("lrjax sweep: error: "), err
    for word in words:
        assert word in err, err


def test_storage_that_is_a_folder_or_not_sqlite(capsys, tmp_path):
    pytest.importorskip("optuna")
    not_db = tmp_path / "notes.db"
    not_db.write_text("some notes\n")
    for storage, words in [
        (tmp_path, ["storage", str(tmp_path), "is a directory", "study.db"]),
        (not_db, ["storage", str(not_db), "not an SQLite database"]),
    ]:
        err = error_of(capsys, "--search", "bayes", "--storage", str(storage), "--quiet")
        for word in words:
            assert word in err, err


@pytest.mark.parametrize(
    "options, words",
    [
        ({"out": 5}, ["out", "5", "string"]),
        ({"out": ""}, ["out", "''"]),
        ({"storage": 5, "search": "bayes"}, ["storage", "5", "string"]),
        ({"seed": 2**70}, ["seed", str(2**70), "2**32 - 1"]),
        ({"seed": 1.0}, ["seed", "1.0", "integer"]),
        ({"quiet": "no"}, ["quiet", "'no'", "true or false"]),
        ({"range_test": 1}, ["range_test", "1", "true or false"]),
        ({"steps": True}, ["steps", "True", "integer >= 1"]),
        ({"steps": 100.0}, ["steps", "100.0", "integer >= 1"]),
        ({"population": "24"}, ["population", "'24'", "integer >= 1"]),
        ({"chunk_size": False}, ["chunk_size", "False"]),
        ({"eval_every": 2.5}, ["eval_every", "2.5"]),
        ({"trials": True}, ["trials", "True"]),
        ({"space": {"peak": {"log_uniform": [1e-4, 1e999]}}}, ["peak", "inf"]),
        ({"space": {"peak": {"log_uniform": ["0.1", 1]}}}, ["peak", "[low, high]", "'0.1'"]),
        ({"keep": True}, ["keep", "True"]),
        ({"space": {"family": ["constant", 5]}}, ["family", "5"]),
        ({"space": {"optimizer": {"choice": "adam"}}}, ["optimizer", "'adam'", "list"]),
        ({"sampler": ["grid"]}, ["sampler", "['grid']", "halton"]),
        ({"task": 5}, ["task", "5"]),
    ],
)
def test_config_values_of_the_wrong_kind(capsys, tmp_path, options, words):
    """A config file can hold any JSON value; each must be refused in one line."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps(options))
    err = error_of(capsys, "--config", str(path))
    for word in words:
        assert word in err, err


def test_toml_config_kinds(capsys, tmp_path):
    path = tmp_path / "c.toml"
    for text, words in [
        ("seed = 1180591620717411303424\n", ["seed", "1180591620717411303424"]),
        ('quiet = "no"\n', ["quiet", "'no'"]),
        ("[space]\npeak = inf\n", ["peak", "inf"]),
        ("[task]\nbatch = 2000\n", ["batch", "2000", "1079"]),
    ]:
        path.write_text(text)
        err = error_of(capsys, "--config", str(path))
        for word in words:
            assert word in err, (text, err)
    path.write_text("quiet = true\nrange_test = false\nseed = 4294967295\n")
    config = cli.config_from_args(["--config", str(path)])
    assert (config.quiet, config.range_test, config.seed) == (True, False, 2**32 - 1)


def test_out_that_is_a_file(capsys, tmp_path):
    path = tmp_path / "report"
    path.write_text("")
    err = error_of(capsys, "--out", str(path))
    assert f"out {str(path)!r} is a file, not a folder" in err


def test_the_batch_limit_is_the_loaded_training_split():
    from lrjax.sweep import digits

    data = digits.load(3)
    assert digits.split_sizes() == (len(data.x_train), len(data.x_val), len(data.x_test))
    prepared = job.prepare(cli.config_from_args(["--option", f"batch={len(data.x_train)}"]))
    assert prepared.task.batches.shape[1] == 1079
    idx = digits.batch_indices(len(data.x_train), 3, len(data.x_train))
    assert sorted(idx[0].tolist()) == list(range(1079))  # a batch of the whole split
    with pytest.raises(ValueError, match="batch .1080. exceeds the 1079 rows"):
        digits.batch_indices(1079, 3, 1080)  # was a ZeroDivisionError


def test_process_refuses_an_overflowing_seed_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "lrjax", "sweep", "--seed", str(2**70)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("lrjax sweep: error: seed must be in [0, 2**32 - 1]")


# --------------------------------------------------------------------------------------
# The memory a job needs, estimated before any training


def test_the_default_job_fits_and_its_estimate_grows_with_what_it_keeps():
    prepared = job.prepare(cli.config_from_args([]))  # the machine's real memory: it fits
    need = memory.estimate(prepared)
    assert (need.members, need.at_once) == (240, 240)
    # the carry: the MLP's 4,810 parameters and the states of the six optimizers the
    # task can switch between (sgd 0, momentum 1, nesterov 1, adagrad 1, rmsprop 1,
    # adam 2 copies, plus their step counts), four times over
    params = 64 * 64 + 64 + 64 * 10 + 10
    assert 4 * 4 * params * 7 <= need.per_trained - 4 * 2 * 500 < 4 * 4 * params * 8
    assert need.shared == 500 * 64 * 4  # the int32 batch indices
    assert need.total == 240 * (need.per_member + need.per_trained) + need.shared
    chunked = memory.estimate(prepared._replace(options=_with(prepared.options, chunk_size=10)))
    assert chunked.at_once == 10 and chunked.total < need.total
    bayes = memory.estimate(prepared._replace(options=_with(prepared.options, search="bayes")))
    assert (bayes.members, bayes.at_once) == (64, 16)  # trials, round_size


def _with(options, **changes):
    import dataclasses

    return dataclasses.replace(options, **changes)


def test_too_large_a_population_is_refused_with_what_fits(capsys, monkeypatch):
    argv = ["--sampler", "random", "--population", "250"]
    need = memory.estimate(job.prepare(cli.config_from_args(argv)))
    available = need.total - need.per_member - need.per_trained // 2  # 249 members do not fit
    monkeypatch.setattr(memory, "machine_memory", lambda: available)
    err = error_of(capsys, *argv)
    for word in ["250 members x 500 steps", "need about", "more than this machine's"]:
        assert word in err, err
    fit = int(err.split("at most ")[1].split(" members fit")[0])
    assert 200 < fit < 250
    job.prepare(cli.config_from_args(["--sampler", "random", "--population", str(fit)]))
    error_of(capsys, "--sampler", "random", "--population", str(fit + 1))


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--population", "10000000", "--sampler", "random"], ["10000000 members"]),
        (["--points", "100000000"], ["2400000000 members"]),
        (["--steps", str(2**31 - 1)], ["digits: 2147483647 steps", "need about"]),
        (["--search", "bayes", "--trials", "100000000"], ["100000000 members"]),
    ],
)
def test_sizes_past_this_machines_memory(capsys, argv, words):
    """These ran out of memory (or raised MemoryError) minutes in."""
    err = error_of(capsys, *argv)
    for word in [*words, "more than this machine's"]:
        assert word in err, err
