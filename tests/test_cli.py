"""The main job, ``lrjax sweep``: its options, its errors, and the report it writes."""

import csv
import json
import subprocess
import sys

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
