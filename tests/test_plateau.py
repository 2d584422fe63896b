"""Reduce on plateau: torch's ReduceLROnPlateau replayed exactly, the native controller's
symmetric threshold, tracing, and the transformation that scales any optimizer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from peer_cases import load_cases

import lrjax
from lrjax.adaptive import ReduceOnPlateau, reduce_on_plateau
from lrjax.compat.torch import ReduceLROnPlateau

CASES = load_cases("plateau")
TIMM_CASES = load_cases("timm_plateau")


def _replay(controller, metrics):
    def step(state, metric):
        state = controller.step(state, metric)
        return state, state

    _, states = jax.lax.scan(step, controller.init(), jnp.asarray(metrics))
    return states


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_torch_plateau_cases_exactly(case, x64):
    c = ReduceLROnPlateau(case["base_lr"], **case["params"])
    states = _replay(c, case["metrics"])
    lrs = np.concatenate([[float(c.lr(c.init()))], np.asarray(c.lr(states))])
    np.testing.assert_array_equal(lrs, case["lrs"])
    np.testing.assert_array_equal(np.asarray(states.best), case["best"])
    np.testing.assert_array_equal(np.asarray(states.num_bad), case["num_bad_epochs"])
    np.testing.assert_array_equal(np.asarray(states.cooldown), case["cooldown_counter"])


@pytest.mark.parametrize("case", TIMM_CASES, ids=[c["name"] for c in TIMM_CASES])
def test_timm_plateau_cases(case, x64):
    c = lrjax.compat.timm.PlateauLRScheduler(case["base_lr"], **case["params"])
    states = _replay(c, case["metrics"])
    lrs = np.concatenate([[float(c.lr(c.init()))], np.asarray(c.lr(states))])
    np.testing.assert_allclose(lrs, case["lrs"], rtol=1e-12)


def test_torch_plateau_float32_rates():
    for case in CASES:
        c = ReduceLROnPlateau(case["base_lr"], **case["params"])
        lrs = np.asarray(c.lr(_replay(c, case["metrics"])))
        np.testing.assert_allclose(lrs, case["lrs"][1:], rtol=1e-6)


def _python_plateau(metrics, lr, factor, patience, threshold, cooldown, min_lr, eps, mode):
    """A plain-Python reading of the documented rule with the |best| relative threshold."""
    best, bad, cool, out = (np.inf if mode == "min" else -np.inf), 0, 0, []
    for m in metrics:
        sign = 1 if mode == "min" else -1
        if np.isinf(best) and not np.isnan(m):
            better = True
        else:
            better = sign * m < sign * best - threshold * abs(best)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            cool, bad = cooldown, 0
        out.append(lr)
    return out


@pytest.mark.parametrize("mode", ["min", "max"])
def test_native_is_symmetric_for_negative_metrics(mode, x64):
    """A metric improving by less than threshold * |best| is a plateau, whatever its sign."""
    sign = 1 if mode == "min" else -1
    for offset in (5.0, -5.0):  # the same curve, positive or negative
        metrics = sign * (np.concatenate([1 - 0.1 * np.arange(5), 0.6 - 1e-6 * np.arange(20)]))
        metrics = metrics + offset
        c = ReduceOnPlateau(1.0, factor=0.5, patience=2, threshold=1e-3, mode=mode)
        got = np.asarray(c.lr(_replay(c, metrics)))
        want = _python_plateau(metrics, 1.0, 0.5, 2, 1e-3, 0, 0.0, 1e-8, mode)
        np.testing.assert_array_equal(got, want)
        assert got[-1] < 1.0  # the plateau is detected on both sides of zero


def test_torch_rel_threshold_differs_for_negative_metrics(x64):
    """torch's best * (1 - thr) moves toward zero for negative best: slight worsening counts
    as improvement, so torch never reduces here while the native controller does."""
    metrics = -1.0 + 1e-5 * np.arange(30)  # slowly getting worse
    torch_like = ReduceLROnPlateau(1.0, factor=0.5, patience=2)
    native = ReduceOnPlateau(1.0, factor=0.5, patience=2)
    assert float(torch_like.lr(_replay(torch_like, metrics))[-1]) == 1.0
    assert float(native.lr(_replay(native, metrics))[-1]) < 1.0


@pytest.mark.parametrize("field", ["factor", "patience", "threshold", "cooldown", "min_lr"])
def test_vmap_over_hyperparameters_equals_loop(field):
    metrics = jnp.asarray(1.0 + 0.05 * np.sin(np.arange(80)))
    values = {
        "factor": [0.1, 0.5, 0.9],
        "patience": [0, 3, 7],
        "threshold": [0.0, 1e-2, 1e-1],
        "cooldown": [0, 2, 5],
        "min_lr": [0.0, 0.05, 0.3],
    }[field]
    base = dict(base_lr=1.0, factor=0.5, patience=2, threshold=1e-3, cooldown=1, min_lr=0.01)

    def run(v):
        c = ReduceOnPlateau(**{**base, field: v})
        return c.lr(_replay(c, metrics))

    batched = jax.vmap(run)(jnp.asarray(values))
    for i, v in enumerate(values):
        np.testing.assert_array_equal(batched[i], run(v))


def test_new_hyperparameters_do_not_recompile():
    metrics = jnp.linspace(1.0, 0.9, 30)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def final_lr(c):
        return c.lr(_replay(c, metrics))[-1]

    for factor, patience in [(0.5, 2), (0.2, 5), (0.9, 0)]:
        final_lr(ReduceOnPlateau(1.0, factor=jnp.asarray(factor), patience=jnp.asarray(patience)))


def test_transformation_scales_any_optimizer_and_composes_with_a_schedule():
    schedule = lrjax.schedules.cosine_decay(0.1, 100)
    opt = optax.chain(lrjax.sgd(schedule), reduce_on_plateau(factor=0.5, patience=1))
    params = jnp.ones(2)
    state = opt.init(params)
    losses = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]  # a reduction after the 4th loss, another later
    factors = _python_plateau(losses, 1.0, 0.5, 1, 1e-4, 0, 0.0, 1e-8, "min")
    for k, loss in enumerate(losses):
        updates, state = opt.update(jnp.ones(2), state, params, value=loss)
        want = -float(schedule(k)) * factors[k]
        np.testing.assert_allclose(updates, [want, want], rtol=1e-6)
        np.testing.assert_allclose(lrjax.applied_lr(state), -want, rtol=1e-6)


def test_transformation_averages_over_accumulation_windows():
    opt = reduce_on_plateau(factor=0.5, patience=0, accumulation_size=3)
    state = opt.init(jnp.ones(1))
    values = [1.0, 1.0, 1.0, 2.0, 0.0, 1.0]  # window means 1.0 then 1.0: the second is a plateau
    scales = []
    for v in values:
        updates, state = opt.update(jnp.ones(1), state, value=v)
        scales.append(float(updates[0]))
    assert scales == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]


def test_transformation_needs_value():
    opt = reduce_on_plateau()
    with pytest.raises(ValueError, match="value=loss"):
        opt.update(jnp.ones(1), opt.init(jnp.ones(1)))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(factor=1.0), "factor"),
        (dict(factor=-0.1), "factor"),
        (dict(patience=-1), "patience"),
        (dict(threshold=-1e-3), "threshold"),
        (dict(cooldown=-1), "cooldown"),
        (dict(min_lr=-1.0), "min_lr"),
        (dict(eps=float("nan")), "eps"),
        (dict(mode="minimum"), "mode"),
        (dict(threshold_mode="relative"), "threshold_mode"),
    ],
)
def test_bad_values_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ReduceOnPlateau(**kwargs)
    with pytest.raises(ValueError, match=name):
        ReduceLROnPlateau(0.1, **kwargs)


def test_torch_negative_lr_is_named_base_lr():
    """The compat constructor's own argument, as its declaration (`_checks.arguments`)."""
    with pytest.raises(ValueError, match="^base_lr must"):
        ReduceLROnPlateau(-0.1)
