"""Every Markdown page under docs/ runs as written: its ```python blocks execute in order, in
one fresh namespace per page (```text and other fences are not run). Pages without Python
blocks (the API reference, the gallery) are not collected.

docs/porting.md is also checked for what it claims: its worked example reproduces torch's
OneCycleLR + AdamW, written out below from torch's definitions (not from lrjax), and its
Keras and timm ports give the peers' formulas.
"""

import math
import re
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
# A fenced ```python block, possibly indented (inside a list item); the fence closes at the
# same indentation.
FENCE = re.compile(r"^([ \t]*)```python[ \t]*\n(.*?)^\1```[ \t]*$", flags=re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return [textwrap.dedent(body) for _, body in FENCE.findall(page.read_text())]


def _param(page: Path):
    return pytest.param(page, id=page.relative_to(DOCS).as_posix())


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run a page in an empty folder, without a display, and undo a global x64 switch."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    x64 = jax.config.jax_enable_x64
    yield
    jax.config.update("jax_enable_x64", x64)


@pytest.mark.parametrize("page", [_param(p) for p in PAGES if python_blocks(p)])
def test_page_runs(page, isolated):
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(python_blocks(page)):
        code = compile(block, f"{page.relative_to(DOCS)} (python block {i + 1})", "exec")
        exec(code, namespace)
    check = CHECKS.get(page.relative_to(DOCS).as_posix())
    if check is not None:
        check(namespace)


# ---------------------------------------------------------------------------------------
# docs/porting.md: the claims of its examples, against the peers' own formulas
# ---------------------------------------------------------------------------------------


def _cos_anneal(start, end, pct):
    """torch OneCycleLR._annealing_cos."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def torch_one_cycle(k, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                    final_div_factor=1e4, base_momentum=0.85, max_momentum=0.95):  # fmt: skip
    """(lr, momentum) of torch OneCycleLR after k scheduler steps (two phases, cos)."""
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    phases = [
        (float(pct_start * total_steps) - 1, initial, max_lr, max_momentum, base_momentum),
        (float(total_steps) - 1, max_lr, minimum, base_momentum, max_momentum),
    ]
    start = 0.0
    for i, (end, lr0, lr1, m0, m1) in enumerate(phases):
        if k <= end or i == len(phases) - 1:
            pct = (k - start) / (end - start)
            return _cos_anneal(lr0, lr1, pct), _cos_anneal(m0, m1, pct)
        start = end
    raise AssertionError("unreachable")


def torch_adamw(x, y, steps, lr_beta1, b2=0.999, eps=1e-8, weight_decay=0.1):
    """torch.optim.AdamW (single tensor) on mean((x @ w - y)**2), float64."""
    w = np.zeros(x.shape[1])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for k in range(steps):
        lr, b1 = lr_beta1(k)
        t = k + 1
        g = 2.0 / len(y) * x.T @ (x @ w - y)
        w = w * (1 - lr * weight_decay)
        m = m + (1 - b1) * (g - m)
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        w = w - (lr / bc1) * m / (np.sqrt(v) / math.sqrt(bc2) + eps)
    return w


def check_porting(ns):
    total = 50
    want = [torch_one_cycle(k, 0.1, total) for k in range(total)]
    want_lr = np.array([lr for lr, _ in want])
    want_beta1 = np.array([m for _, m in want])

    # The rate every update applied (lrjax.applied_lr) is torch's lr after k sched.step().
    np.testing.assert_allclose(ns["lrs"], want_lr, rtol=1e-5)
    steps = np.arange(total)
    np.testing.assert_allclose(ns["onecycle"](steps), want_lr, rtol=1e-5)
    np.testing.assert_allclose(ns["onecycle"].momentum(steps), want_beta1, rtol=1e-5)
    assert want_lr[0] == pytest.approx(0.1 / 25) and max(want_lr) == pytest.approx(0.1)
    assert want_beta1.min() == pytest.approx(0.85) and want_beta1[0] == pytest.approx(0.95)

    # The parameters follow torch's AdamW with the cycled lr and beta1.
    x, y = np.asarray(ns["x"], np.float64), np.asarray(ns["y"], np.float64)
    w_torch = torch_adamw(x, y, total, lambda k: want[k])
    np.testing.assert_allclose(ns["w"], w_torch, rtol=1e-4, atol=1e-5)
    # beta1 matters: a constant 0.9 gives another trajectory.
    w_fixed = torch_adamw(x, y, total, lambda k: (want[k][0], 0.9))
    assert np.max(np.abs(w_fixed - w_torch)) > 1e-3
    # The native construction is the same optimizer.
    np.testing.assert_allclose(ns["w_native"], ns["w"], rtol=1e-6, atol=1e-7)

    # Keras CosineDecay with warmup (keras' formula) and PiecewiseConstantDecay's boundary.
    def keras_cosine(k, init=0.0, decay=90, alpha=0.1, target=0.05, warm=10):
        if k < warm:
            return init + (target - init) * k / warm
        s = min(k - warm, decay)
        return target * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay)) + alpha)

    ks = np.arange(0, 130, 7)
    keras_want = [keras_cosine(k) for k in ks]
    np.testing.assert_allclose(ns["cosine"](ks), keras_want, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ns["same"](ks), keras_want, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(float(ns["lrjax"].applied_lr(ns["sgd_state"])), keras_cosine(99))
    np.testing.assert_allclose(ns["piecewise"](np.array([29, 30, 31])), [0.1, 0.1, 0.01])

    # timm CosineLRScheduler, prefixed warmup, stepped per epoch: lr of epoch e.
    def timm_cosine(e, lr=0.05, lr_min=1e-4, t_initial=6, warmup_t=2, warmup_lr_init=1e-3):
        if e < warmup_t:
            return warmup_lr_init + e * (lr - warmup_lr_init) / warmup_t
        t = e - warmup_t
        if t >= t_initial:  # cycle_limit=1
            return lr_min
        return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * t / t_initial))

    epochs = np.arange(8)
    timm_want = [timm_cosine(e) for e in epochs]
    np.testing.assert_allclose(ns["epoch_lrs"], timm_want, rtol=1e-5)
    n = ns["steps_per_epoch"]
    np.testing.assert_allclose(ns["per_update"](epochs * n), timm_want, rtol=1e-5)
    np.testing.assert_allclose(ns["by_update"](np.arange(8 * n)), np.repeat(timm_want, n), 1e-5)
    assert ns["timm_loss"] < 0.1

    # ReduceLROnPlateau: the optimizer runs at the controller's (reduced) rate.
    lr = float(ns["plateau"].lr(ns["plateau_state"]))
    assert lr == pytest.approx(0.05)
    assert float(ns["opt_state"].hyperparams["learning_rate"]) == pytest.approx(lr)


CHECKS = {"porting.md": check_porting}


def test_porting_page_is_collected():
    assert DOCS / "porting.md" in PAGES
    assert len(python_blocks(DOCS / "porting.md")) >= 4
