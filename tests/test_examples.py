"""Every example runs as a script with its quick option, writes its plots, and prints
numbers that say it worked: the rates each strategy applied, the accuracy a tuned optimizer
reaches, that a range-test suggestion trains, that a sweep ranks its settings, that
`applied_lr` logs the schedule through optax wrappers.

The plotting examples need matplotlib and the digits ones scikit-learn (the ``demo``
extra, which `make test` installs): without them those tests are skipped. The
digits examples take about 10 s each and are marked slow.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf"


def run_example(name: str, *args: str) -> str:
    """Run ``examples/<name>.py`` with ``args``; return its stdout after checking it
    exited cleanly."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def table(stdout: str, first: str) -> dict[str, list[float]]:
    """Rows of the printed table: the words before the numbers -> the numbers, for the
    lines that start (after indentation) with one of the words in ``first``."""
    rows = {}
    for line in stdout.splitlines():
        match = re.match(rf"\s+({first})\s+((?:(?:{NUMBER})\s*)+)$", line)
        if match:
            rows[match.group(1)] = [float(x) for x in match.group(2).split()]
    return rows


def test_linear_regression_strategies(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_example("linear_regression_strategies", "--quick", "--out", str(tmp_path))
    assert_png(tmp_path / "strategies.png")
    names = "fixed|exponential|bounded exp|random|adaptive|linear"
    rows = table(out, names)
    assert set(rows) == set(names.split("|"))
    optimum = table(out, "least squares")["least squares"][0]
    for name, (_, loss, excess, distance) in rows.items():
        assert loss >= optimum * (1 - 1e-6), name  # nothing beats least squares on its data
        assert abs(loss - optimum - excess) < 1e-3, name
        assert 0 < distance < 3, name
    assert rows["fixed"][0] == pytest.approx(0.05)  # the final rates: as scheduled
    assert rows["bounded exp"][0] == pytest.approx(0.005)  # the floor
    assert rows["exponential"][0] < 0.001
    assert rows["linear"][0] < 0.001
    assert 0.005 <= rows["random"][0] <= 0.05
    assert rows["fixed"][1] < 1.2 * optimum  # a fixed rate gets to its noise floor


def test_sweep_in_a_few_lines():
    out = run_example("sweep_in_a_few_lines", "--steps", "200")
    assert "28 settings x 200 steps" in out
    worst = float(re.search(rf"worst full-data MSE ({NUMBER})", out).group(1))
    best = [float(line.split()[-1]) for line in out.splitlines()[-5:]]
    assert len(best) == 5 and best == sorted(best)
    assert best[0] < 0.05 < worst  # sin(3x) fitted at the best settings, not at the worst


def test_optax_chain(tmp_path):
    pytest.importorskip("matplotlib")
    out = run_example("optax_chain", "--quick", "--out", str(tmp_path))
    assert_png(tmp_path / "optax_chain.png")
    gap = float(re.search(rf"schedule\(step\)\| over all steps = ({NUMBER})", out).group(1))
    assert gap < 1e-6  # applied_lr through clip_by_global_norm and chain is the schedule
    rows = {
        int(line.split()[0]): [float(x) for x in line.split()[1:]]
        for line in out.splitlines()
        if re.match(r"\s+\d+\s", line)
    }
    lrs = {k: row[0::2] for k, row in rows.items()}  # per step: clip+adam, multi, inject, plateau
    assert lrs[0][1] == lrs[1][1] == lrs[2][1] == lrs[3][1]  # MultiSteps: one rate per 4 steps
    assert lrs[4][1] == lrs[3][1] and lrs[9][1] > lrs[3][1]
    assert lrs[49][2] == pytest.approx(0.05) and lrs[50][2] == pytest.approx(0.01)  # injected
    assert lrs[99][3] < lrs[0][3]  # the plateau has lowered the rate
    first, last = rows[0][1::2], rows[99][1::2]  # the minibatch losses
    assert all(last[i] < first[i] / 10 for i in (0, 2, 3))
    assert last[1] < first[1]  # MultiSteps made only 25 updates


@pytest.mark.slow
def test_digits_optimizers(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = run_example("digits_optimizers", "--quick", "--out", str(tmp_path))
    assert_png(tmp_path / "optimizers.png")
    rows = table(out, "sgd|momentum|adagrad|rmsprop|adam")
    assert len(rows) == 5
    for name, (_, val_acc, test_acc, test_loss) in rows.items():
        assert test_acc > 0.9, name
        assert val_acc > 0.9, name
        assert test_loss < 0.3, name
    assert rows["sgd"][0] > rows["adam"][0]  # plain SGD wants a larger rate than Adam


@pytest.mark.slow
def test_range_test(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = run_example("range_test", "--quick", "--out", str(tmp_path))
    assert_png(tmp_path / "range_test.png")
    match = re.search(rf"valley suggestion ({NUMBER}) converges: val accuracy ({NUMBER})", out)
    assert match, out
    lr, accuracy = float(match.group(1)), float(match.group(2))
    assert 1e-3 < lr < 1.0
    assert accuracy > 0.9
    rows = {
        tuple(line.split()[:2]): [float(x) for x in line.split()[2:]]
        for line in out.splitlines()
        if re.match(r"\s+(sequential|parallel)\s+(valley|steepest|minimum)\s", line)
    }
    assert len(rows) == 6
    assert all(1e-4 <= lr <= 10 for lr, _, _ in rows.values())  # inside the tested range


@pytest.mark.slow
def test_digits_search():
    pytest.importorskip("sklearn")
    out = run_example("digits_search", "--quick")
    assert "exploit_explore checked: integer indices copied, not perturbed." in out
    rows = {
        line.split()[0]: [float(x) for x in re.findall(NUMBER, line)]
        for line in out.splitlines()
        if re.match(r"(random|halving|pbt)\s+\d", line)
    }
    assert set(rows) == {"random", "halving", "pbt"}
    for name, (val, _, test_loss, _, acc, _) in rows.items():
        assert val < 0.5 and test_loss < 0.5 and acc > 0.9, name  # every winner learned


@pytest.mark.slow
def test_digits_bayes():
    pytest.importorskip("sklearn")
    pytest.importorskip("optuna")
    out = run_example("digits_bayes", "--quick")
    means = {
        line.split()[0]: float(line.split()[1])
        for line in out.splitlines()
        if re.match(r"\s+(random|tpe|halving)\s+\d", line)
    }
    assert set(means) == {"random", "tpe", "halving"}
    assert all(v < 1.0 for v in means.values())  # every method's winner learned
    assert re.search(r"^\s+8\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+x$", out, flags=re.M)


def _sweep_table(out: str) -> dict[str, list[float]]:
    """The member lines ``  <peak>/<warmup>  <val_loss> <val_acc>`` and the winner's."""
    rows = {}
    for line in out.splitlines():
        match = re.match(rf"\s+(\S+)\s+({NUMBER})\s+({NUMBER})$", line)
        if match:
            rows[match.group(1)] = [float(match.group(2)), float(match.group(3))]
    return rows


def _assert_sweep_worked(out: str) -> None:
    rows = _sweep_table(out)
    winner = rows.pop("winner")
    assert len(rows) == 12, out  # 4 peaks x 3 warmups
    losses = [loss for loss, _ in rows.values()]
    assert all(abs(v) < float("inf") for v in winner)  # finite: not NaN, not inf
    assert winner[0] == min(losses) < max(losses)  # the winner is the best member, not the worst
    assert winner[0] < 0.3 and winner[1] > 0.9  # and it learned the digits


@pytest.mark.slow  # the same NNX sweep runs in docs/howto/sweep-frameworks.md
def test_sweep_nnx():
    pytest.importorskip("flax")
    pytest.importorskip("sklearn")
    _assert_sweep_worked(run_example("sweep_nnx", "--quick"))


@pytest.mark.slow  # the same Equinox sweep runs in docs/howto/sweep-frameworks.md
def test_sweep_equinox():
    pytest.importorskip("equinox")
    pytest.importorskip("sklearn")
    _assert_sweep_worked(run_example("sweep_equinox", "--quick"))


def _ppo_table(out: str) -> tuple[dict[str, list[float]], list[float]]:
    """The member lines ``  <lr>/<anneal>/<warmup>/<seed>  <score> <last>`` and the winner's."""
    rows = {}
    for line in out.splitlines():
        match = re.match(rf"\s+(\S+/\S+|winner)\s+({NUMBER})\s+({NUMBER})$", line)
        if match:
            rows[match.group(1)] = [float(match.group(2)), float(match.group(3))]
    return rows, rows.pop("winner")


# Slow: 15-30 s each. Both forms of the PPO sweep run in tests/test_cartpole_ppo.py, and
# streaming to TensorBoard with a checkpointed resume in tests/test_sweep_logs.py.
@pytest.mark.slow
@pytest.mark.parametrize("form", ["train", "steps"])
def test_sweep_ppo_cartpole(form, tmp_path):
    pytest.importorskip("gymnax")
    args = ["--quick", "--form", form]
    if form == "steps":
        args += ["--tensorboard", str(tmp_path / "tb"), "--checkpoint", str(tmp_path / "ck")]
    rows, winner = _ppo_table(run_example("sweep_ppo_cartpole", *args))
    scores = [score for score, _ in rows.values()]
    assert len(rows) == 6 and all(s == s for s in scores)  # 6 members, no NaN
    assert winner[0] == max(scores) > min(scores)  # the winner has the highest return
    assert winner[0] > 30  # above a random policy's ~22: it learned to balance a little
    if form == "steps":
        assert len(list((tmp_path / "tb").iterdir())) == 6  # one TensorBoard run per member
        assert any((tmp_path / "ck").iterdir())
