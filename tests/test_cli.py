"""The main job, ``lrjax sweep``: its options, its errors, and the report it writes."""

import csv
import dataclasses
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from lrjax import cli

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

TINY = ["--steps", "20", "--lr-points", "2", "--schedules", "constant,cosine"]


def error_of(capsys, *argv):
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--steps", "-5"], ["steps", "-5", ">= 10"]),
        (["--steps", "x"], ["--steps", "'x'"]),
        (["--schedules", "constant,foo"], ["schedule", "'foo'", "cosine"]),
        (["--optimizers", "adam,lion"], ["optimizer", "'lion'", "momentum"]),
        (["--optimizers", ","], ["optimizers", "non-empty"]),
        (["--schedules", "cosine,cosine"], ["schedules", "twice"]),
        (["--sampler", "sobol"], ["sampler", "halton", "'sobol'"]),
        (["--lr-min", "1", "--lr-max", "0.1"], ["lr_min", "lr_max"]),
        (["--lr-min", "0"], ["lr_min", "positive"]),
        (["--population", "3"], ["population 3", "24 cells"]),
        (["--population", "0"], ["population", ">= 1"]),
        (["--eval-every", "600"], ["eval_every", "exceeds steps"]),
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
        ("a.json", json.dumps({"schedules": []}), ["schedules", "non-empty"]),
        ("b.json", json.dumps({"stepz": 5}), ["unknown option 'stepz'", "steps"]),
        ("c.toml", "steps = -1\n", ["steps", "-1"]),
        ("d.toml", "steps = \n", ["Invalid"]),
        ("e.yaml", "steps: 5\n", [".toml or .json"]),
        ("f.json", "[1, 2]", ["table of options"]),
    ]
    for name, text, words in cases:
        path = tmp_path / name
        path.write_text(text)
        err = error_of(capsys, "--config", str(path))
        for word in words:
            assert word in err, (name, err)


def test_config_file_and_command_line_merge(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('steps = 40\nschedules = ["cosine", "one_cycle"]\nsampler = "halton"\n')
    config = cli.config_from_args(["--config", str(path), "--steps", "30", "--population", "5"])
    assert (config.steps, config.schedules, config.sampler) == (
        30,
        ["cosine", "one_cycle"],
        "halton",
    )
    hp = cli.space(config)
    assert hp["peak"].shape == (5,)
    assert np.all((hp["peak"] >= config.lr_min) & (hp["peak"] <= config.lr_max))
    assert set(np.asarray(hp["family"]).tolist()) <= {0, 1}


def test_grid_population_is_rounded_down_to_whole_cells():
    config = cli.config_from_args(["--population", "50"])  # 6 x 4 cells: 2 rates each
    hp = cli.space(config)
    assert hp["peak"].shape == (48,)
    np.testing.assert_allclose(sorted(set(np.asarray(hp["peak"]).tolist())), [1e-4, 3.0], rtol=1e-6)


def test_process_exit_status_and_no_traceback():
    done = subprocess.run(
        [sys.executable, "-m", "lrjax", "sweep", "--steps", "-3"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "lrjax sweep: error: steps must be an integer >= 10, got -3"


def test_a_small_sweep_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    assert cli.main([*TINY, "--optimizers", "sgd,adam", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.md'}" in printed
    for name in ("heatmap.png", "lr_curves.png", "loss_curves.png", "range_test.png"):
        assert (out / name).stat().st_size > 10_000, name
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2  # schedules x optimizers x rates
    losses = [float(r["final_val_loss"]) for r in rows]
    assert losses == sorted(losses)  # best first
    diverged = [r["diverged"] for r in rows]
    assert set(diverged) <= {"True", "False"} and diverged == sorted(diverged)  # False first
    assert {r["optimizer"] for r in rows} == {"sgd", "adam"}
    assert sorted({float(r["peak"]) for r in rows}) == pytest.approx([1e-4, 3.0])
    text = (out / "report.md").read_text()
    best = rows[0]
    assert f"**Best:** {best['optimizer']} with the {best['schedule']} schedule" in text
    for section in ("## Best per optimizer", "## Top 15 settings", "## Learning-rate range test"):
        assert section in text
    for image in ("heatmap.png", "lr_curves.png", "loss_curves.png", "range_test.png"):
        assert f"]({image})" in text


@pytest.mark.slow
def test_the_default_job_finds_a_good_model(tmp_path, capsys):
    """``make demo``: the full default sweep; its winner must be a real classifier and the
    range test's suggestion must train."""
    assert cli.main(["--out", str(tmp_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    accuracy = float(printed.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.95
    text = (tmp_path / "report.md").read_text()
    assert "it converges." in text
    with open(tmp_path / "results.csv") as f:
        assert len(list(csv.DictReader(f))) == 240


def test_bayesian_search_writes_its_history(tmp_path, capsys):
    pytest.importorskip("optuna")
    out = tmp_path / "bayes"
    argv = [*TINY, "--optimizers", "adam", "--search", "bayes", "--trials", "6"]
    argv += ["--round-size", "4", "--no-range-test", "--quiet", "--out", str(out)]
    argv += ["--storage", str(tmp_path / "study.db")]
    assert cli.main(argv) == 0
    assert (out / "history.png").stat().st_size > 10_000
    text = (out / "report.md").read_text()
    assert "## Bayesian optimization" in text and "proposed 6 trials in rounds of 4" in text
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and {r["optimizer"] for r in rows} == {"adam"}
    peaks = [float(r["peak"]) for r in rows]
    assert all(1e-4 <= p <= 3.0 for p in peaks) and len(set(peaks)) == 6  # proposed, not a grid
    # the study is on disk: asking again for the same 6 trials has nothing left to train
    capsys.readouterr()
    assert cli.main(argv) == 2
    assert "already holds every trial" in capsys.readouterr().err


def _retrain_gap(text: str) -> float:
    """The report's "(the search's value, to X)": the winner re-evaluated against the
    search's own number."""
    return float(text.split("the search's value, to ")[1].split(")")[0])


def test_halving_search_continues_the_best_third(tmp_path, capsys):
    out = tmp_path / "halving"
    argv = [*TINY, "--optimizers", "sgd,adam", "--lr-points", "3", "--search", "halving"]
    assert cli.main([*argv, "--no-range-test", "--quiet", "--out", str(out)]) == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12
    ends = cli.rungs(cli.Config(steps=20))
    assert ends == [2, 7, 20]
    steps = [int(r["steps"]) for r in rows]
    # 12 members -> the best third, 4, continue -> 1 finishes; ranked by rung reached
    assert [steps.count(e) for e in ends] == [8, 3, 1] and steps == sorted(steps, reverse=True)
    for e in ends:  # within a rung, best first
        losses = [float(r["final_val_loss"]) for r in rows if int(r["steps"]) == e]
        assert losses == sorted(losses)
    text = (out / "report.md").read_text()
    assert "## Successive halving" in text and "12 -> 4 -> 1 settings per rung" in text
    assert f"{12 * 2 + 4 * (7 - 2) + 1 * (20 - 7)} member-steps" in text
    assert _retrain_gap(text) < 1e-5  # retrained alone, the winner reproduces its search
    for image in ("halving.png", "heatmap.png"):
        assert (out / image).stat().st_size > 10_000 and f"]({image})" in text


def test_pbt_search_perturbs_peaks_and_scores_the_final_state(tmp_path, capsys):
    out = tmp_path / "pbt"
    argv = [*TINY, "--optimizers", "sgd,adam", "--lr-points", "3", "--search", "pbt"]
    argv += ["--eval-every", "5", "--sampler", "random", "--population", "8"]
    assert cli.main([*argv, "--no-range-test", "--quiet", "--out", str(out)]) == 0
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    # three exploit/explore rounds between four segments: each peak is its ancestor's
    # start peak times 0.8**a * 1.25**b with a + b <= 3
    factors = {0.8**a * 1.25**b for a in range(4) for b in range(4 - a)}
    for r in rows:
        ratio = float(r["peak"]) / float(r["start_peak"])
        assert min(abs(ratio - f) for f in factors) < 1e-5 * ratio, r
    losses = [float(r["final_val_loss"]) for r in rows]
    assert losses == sorted(losses)
    text = (out / "report.md").read_text()
    assert "## Population-based training" in text and "after every 5 steps" in text
    assert _retrain_gap(text) < 1e-6  # the winner's final state, evaluated again
    assert (out / "pbt.png").stat().st_size > 10_000 and "](pbt.png)" in text


# --------------------------------------------------------------------------------------
# Every option checked before any work: kinds, ranges, sizes, the storage (issue 15)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--batch", "100000"], ["batch", "100000", "training split's 1079 rows"]),
        (["--seed", "99999999999999999999"], ["seed", "99999999999999999999", "2**32 - 1"]),
        (["--seed", "-1"], ["seed", "-1", "[0, 2**32 - 1]"]),
        (["--steps", "1000000000000"], ["steps", "1000000000000", "2**31 - 1"]),
        (["--storage", "s.db"], ["storage", "'s.db'", "--search bayes only", "'sample'"]),
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
        ({"steps": True}, ["steps", "True", "integer >= 10"]),
        ({"steps": 100.0}, ["steps", "100.0", "integer >= 10"]),
        ({"population": "24"}, ["population", "'24'", "integer >= 1"]),
        ({"chunk_size": False}, ["chunk_size", "False"]),
        ({"eval_every": 2.5}, ["eval_every", "2.5"]),
        ({"trials": True}, ["trials", "True"]),
        ({"lr_max": 1e999}, ["lr_max", "inf", "finite"]),
        ({"lr_min": "0.1"}, ["lr_min", "'0.1'"]),
        ({"keep": True}, ["keep", "True"]),
        ({"schedules": ["constant", 5]}, ["schedules", "5", "list of names"]),
        ({"optimizers": "adam"}, ["optimizers", "'adam'", "list of names"]),
        ({"sampler": ["grid"]}, ["sampler", "['grid']", "halton"]),
    ],
)
def test_config_values_of_the_wrong_kind(capsys, tmp_path, options, words):
    """A config file can hold any JSON value; each reached a TypeError or
    AttributeError deep in the job, or was taken (``"quiet": "no"`` was true)."""
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
        ("lr_max = inf\n", ["lr_max", "inf"]),
        ("batch = 2000\n", ["batch", "2000", "1079"]),
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
    assert cli.config_from_args(["--batch", str(len(data.x_train))]).batch == 1079
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
# The memory a job needs, estimated before any work


def test_the_default_job_fits_and_its_estimate_is_the_documented_sum():
    config = cli.config_from_args([])  # the machine's real memory: the default fits
    need = cli.memory_estimate(config)
    assert (need.members, need.at_once) == (240, 240)
    params = 64 * 64 + 64 + 64 * 10 + 10
    states = 0 + 1 + 1 + 2  # sgd, momentum, rmsprop, adam
    assert need.per_trained == 4 * (params * (4 + states) + (3 * 64 + 359) * 138) + 8 * 500
    assert need.per_member == 16 * 500 + 16 * 10 + 8 + 1024
    assert need.shared == 12 * 500 * 64 + 8 * 24 * 10
    assert need.total == 240 * (need.per_member + need.per_trained) + need.shared
    assert 50 * 2**20 < need.total < 2**30  # about 110 MiB
    chunked = cli.memory_estimate(dataclasses.replace(config, chunk_size=10))
    assert chunked.at_once == 10 and chunked.total < need.total
    bayes = cli.memory_estimate(dataclasses.replace(config, search="bayes"))
    assert (bayes.members, bayes.at_once) == (64, 16)  # trials, round_size


def test_too_large_a_population_is_refused_with_what_fits(capsys, monkeypatch):
    argv = ["--sampler", "random", "--population", "250"]
    config = cli.config_from_args(argv)
    short = cli.memory_estimate(dataclasses.replace(config, steps=100)).total
    memory = (short + cli.memory_estimate(config).total) // 2  # 100 steps fit, 500 do not
    monkeypatch.setattr(cli, "machine_memory", lambda: memory)
    err = error_of(capsys, *argv)
    for word in ["population 250", "steps 500", "needs about", f"machine's {cli._size(memory)}"]:
        assert word in err, err
    fit = int(err.split("at most ")[1].split(" members fit at 500 steps")[0])
    steps = int(err.split("at most ")[2].split(" steps fit with 250 members")[0])
    assert 10 < fit < 250 and 100 < steps < 500
    cli.config_from_args(["--sampler", "random", "--population", str(fit)])  # fits
    error_of(capsys, "--sampler", "random", "--population", str(fit + 1))
    cli.config_from_args([*argv, "--steps", str(steps)])
    error_of(capsys, *argv, "--steps", str(steps + 1))


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--population", "10000000", "--sampler", "random"], ["population 10000000"]),
        (["--lr-points", "100000000"], ["lr_points 100000000", "2400000000 members"]),
        (["--steps", str(2**31 - 1)], ["steps 2147483647", "steps fit with 240 members"]),
        (["--search", "bayes", "--trials", "100000000"], ["trials 100000000"]),
    ],
)
def test_sizes_past_this_machines_memory(capsys, argv, words):
    """These ran out of memory (or raised MemoryError) minutes in."""
    err = error_of(capsys, *argv)
    for word in [*words, "needs about", "more than this machine's"]:
        assert word in err, err


def test_diverged_members_rank_after_the_others_and_never_win():
    """Member 1's training loss overflowed; its validation loss, though lowest, says
    nothing of its setting. Ranking (and so the winner, the per-optimizer and
    per-schedule bests, the loss plot) puts it after every member that did not diverge."""
    from lrjax.sweep import SweepResult

    config = cli.Config(schedules=["constant"], optimizers=["sgd"])
    peaks = [0.1, 3.0, 0.01]
    result = SweepResult(
        {"family": np.zeros(3, int), "optimizer": np.zeros(3, int), "peak": np.array(peaks)},
        {"loss": np.array([[1.0, 0.5], [1.0, np.inf], [1.0, 0.9]], np.float32)},
        np.zeros((3, 2), np.float32),
        {"val_loss": np.array([[0.6], [0.05], [1.0]]), "val_error": np.full((3, 1), 0.1)},
        np.array([2]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = cli._rows(config, result)
    assert [r["diverged"] for r in rows] == [False, True, False]
    assert cli._ranked(rows) == [0, 2, 1]
    found = cli.Found(rows, cli._ranked(rows), {}, "", [], [], cli.COLUMNS)
    assert cli._best_by(found, "optimizer").count("| constant | sgd | 0.1 |") == 1
    everyone = [{**r, "diverged": True} for r in rows]  # all diverged: by loss again
    assert cli._ranked(everyone) == [1, 0, 2]
