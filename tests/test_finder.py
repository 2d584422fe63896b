"""The learning-rate range test: the smoothing, divergence stop and suggestion rules
against torch-lr-finder 0.2.2 and a transcription of fastai, then real JAX runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from lrfree import load_cases

import lrjax
from lrjax import finder

CASES = {c["name"]: c for c in load_cases("lr_range_test")}
TORCH = CASES["lr_finder_torch_lr_finder"]
FASTAI = CASES["lr_finder_fastai_transcription"]


def test_torch_lr_finder_recording_and_suggestion():
    kw = TORCH["kwargs"]["range_test"]
    lrs = finder.lr_grid(kw["start_lr"], kw["end_lr"], kw["num_iter"], endpoint=True)
    result = finder.record(
        lrs, TORCH["raw_losses"], beta=1 - kw["smooth_f"], debias=False, diverge_th=kw["diverge_th"]
    )
    np.testing.assert_allclose(result.lrs, TORCH["lrs"], rtol=1e-13)
    np.testing.assert_allclose(result.smoothed, TORCH["smoothed_losses"], rtol=1e-12)
    assert result.stop_index == TORCH["stop_index"]
    np.testing.assert_allclose(result.best_loss, TORCH["best_loss"], rtol=1e-12)
    plot = TORCH["kwargs"]["plot"]
    lr, idx = finder.steepest(result.lrs, result.smoothed, plot["skip_start"], plot["skip_end"])
    assert idx == TORCH["suggested_index"]
    np.testing.assert_allclose(lr, TORCH["suggested_lr"], rtol=1e-13)
    assert finder.suggest(result, "steepest") == lr


def test_fastai_recording():
    kw = FASTAI["kwargs"]
    lrs = finder.lr_grid(kw["start_lr"], kw["end_lr"], kw["num_it"], endpoint=False)
    full = finder.smooth(np.asarray(FASTAI["raw_losses"]), kw["beta"], debias=True)
    np.testing.assert_allclose(full, FASTAI["smoothed_losses_full"], rtol=1e-12)
    result = finder.record(lrs, FASTAI["raw_losses"], beta=kw["beta"], debias=True, diverge_th=4)
    assert result.stop_index == FASTAI["stop_index"]
    np.testing.assert_allclose(result.lrs, FASTAI["lrs_recorded"], rtol=1e-13)
    np.testing.assert_allclose(result.best_loss, FASTAI["best_loss"], rtol=1e-12)


@pytest.mark.parametrize("rule", ["valley", "slide", "minimum", "steep"])
@pytest.mark.parametrize("inputs", ["fastai", "torch_trimmed"])
def test_fastai_suggestion_rules(rule, inputs):
    if inputs == "fastai":
        lrs, losses = np.asarray(FASTAI["suggest_lrs"]), np.asarray(FASTAI["suggest_losses"])
        want = FASTAI["suggestions"][rule]
    else:
        lrs = np.asarray(TORCH["lrs"])[10:-5]
        losses = np.asarray(TORCH["smoothed_losses"])[10:-5]
        want = FASTAI["suggestions_on_torch_lr_finder_trimmed"]["results"][rule]
    lr, idx = finder.SUGGESTIONS[rule](lrs, losses)
    np.testing.assert_allclose(lr, want["lr"], rtol=1e-12)
    if rule == "slide":
        assert idx == want["final_l_idx"]
    else:
        assert idx == want["index"]


def test_suggest_trims_like_fastai():
    kw = FASTAI["kwargs"]
    lrs = finder.lr_grid(kw["start_lr"], kw["end_lr"], kw["num_it"], endpoint=False)
    result = finder.record(lrs, FASTAI["raw_losses"], beta=kw["beta"], debias=True, diverge_th=4)
    for rule in ("valley", "slide", "minimum", "steep"):
        lr = finder.suggest(result, rule, skip_start=kw["num_it"] // 10)
        np.testing.assert_allclose(lr, FASTAI["suggestions"][rule]["lr"], rtol=1e-12)


def test_nan_counts_as_divergence():
    smoothed = np.array([3.0, 2.0, 1.0, np.nan, 0.5])
    assert finder.divergence_index(smoothed, 4.0) == 3


# A least-squares problem whose stable SGD rates are below 2 / λ_max = 2 / 8.
A = jnp.diag(jnp.array([1.0, 2.0, 4.0, 8.0]))


def _loss(p, batch):
    return 0.5 * (p - batch) @ A @ (p - batch)


def _noisy_targets(steps):
    # A moving target, so the loss never reaches 0 exactly and large rates do diverge.
    return 1 + 0.1 * jax.random.normal(jax.random.key(0), (steps, 4))


def test_sequential_range_test_finds_a_stable_rate():
    batches = _noisy_targets(120)
    result = finder.range_test(_loss, lrjax.sgd, jnp.zeros(4), batches, start_lr=1e-4, end_lr=10)
    assert result.stop_index is not None  # rates past 0.25 diverge
    assert result.lrs[result.stop_index] > 0.25
    for rule in ("valley", "steep", "minimum"):
        lr = finder.suggest(result, rule)
        assert 1e-4 < lr < 0.25, (rule, lr)  # inside the sweep and stable


def test_parallel_range_test_marks_divergence_and_suggests_stable_rate():
    batches = _noisy_targets(30)
    lrs = np.geomspace(1e-3, 1.0, 16)
    result = finder.parallel_range_test(_loss, lrjax.sgd, jnp.zeros(4), batches, lrs)
    diverged = ~np.isfinite(result.smoothed)
    assert not diverged[lrs < 0.2].any()  # stable: |1 - 8 lr| < 1
    assert diverged[lrs > 0.35].all()  # clearly unstable within 30 steps
    for rule in ("minimum", "steepest", "steep"):
        lr = finder.suggest(result, rule, skip_start=0, skip_end=0)
        assert 1e-3 < lr < 0.25, (rule, lr)  # never a diverged (inf-scored) rate


def test_parallel_equals_single_runs():
    batches = jnp.ones((10, 4))
    lrs = np.array([0.01, 0.05, 0.1])
    result = finder.parallel_range_test(_loss, lrjax.sgd, jnp.zeros(4), batches, lrs, tail=0.1)
    for lr, last in zip(lrs, result.losses, strict=True):
        p = jnp.zeros(4)
        for b in batches:
            loss, g = jax.value_and_grad(_loss)(p, b)
            p = p - lr * g
        np.testing.assert_allclose(last, loss, rtol=1e-5)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: finder.lr_grid(0.0, 1.0, 10), "start_lr"),
        (lambda: finder.lr_grid(1.0, 0.1, 10), "start_lr"),
        (lambda: finder.lr_grid(1e-3, 1.0, 1), "num"),
        (lambda: finder.lr_grid(1e-3, 1.0, 10, mode="log"), "mode"),
        (lambda: finder.smooth(np.ones(3), 1.0), "beta"),
        (
            lambda: finder.suggest(
                finder.record(np.ones(3), np.ones(3), beta=0.5, debias=True, diverge_th=None),
                "best",
            ),
            "rule",
        ),
    ],
)
def test_bad_values_raise(call, name):
    with pytest.raises(ValueError, match=name):
        call()
