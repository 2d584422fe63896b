"""timm's own scheduler tests, ported to `lrjax.compat.timm`.

Peer source: ``tests/test_scheduler.py`` in github.com/huggingface/pytorch-image-models at
commit aa4b5850c1543fa488abf260f18390eda46cf85d (the file was last changed in 31a85de7);
the expected trajectories were recorded from the released timm 1.0.31, whose scheduler
code is the same up to comments (and a ``noise_std`` factor, 1.0 here).

Mapping: ``timm.scheduler.X(optimizer, **kwargs)`` built on an SGD optimizer with rate
``lr`` is ``lrjax.compat.timm.X(lr, **kwargs)``; the rate timm writes into the param group
by ``scheduler.step(t)`` or ``step_update(t)`` is ``s(t)`` (timm's ``_get_lr(t)``), and
``PlateauLRScheduler`` is a `TimmPlateau` controller whose k-th ``step`` is timm's
``step(epoch=k)``. Peer test class ``TestFoo`` is kept, with the same method names and
parametrizations. The peer's own assertions (and tolerances) are kept; in addition every
scenario's rates are compared with timm's, recorded once by
``tests/refs/generate_timm_suite.py`` into ``tests/refs/timm_suite.json``.

Not applicable:
- TestStateDict.test_state_dict_save_load (5 cases): timm's ``state_dict``/
  ``load_state_dict`` of a stateful scheduler object; an lrjax schedule is an immutable
  pytree holding no step state (the count lives in the optimizer state).
- TestStateDict.test_plateau_state_dict_save_load: the same for ``PlateauLRScheduler``;
  the `TimmPlateau` state is an ordinary pytree returned by ``step``, not saved or loaded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax.compat import timm
from lrjax.compat.timm import (
    CosineLRScheduler,
    MultiStepLRScheduler,
    PlateauLRScheduler,
    PolyLRScheduler,
    StepLRScheduler,
    TanhLRScheduler,
)
from lrjax.schedules import Schedule

REFS = json.loads((Path(__file__).parents[1] / "refs" / "timm_suite.json").read_text())["cases"]

# The peer's parametrizations.
BASIC = [
    (CosineLRScheduler, {"t_initial": 100}),
    (StepLRScheduler, {"decay_t": 10}),
    (MultiStepLRScheduler, {"decay_t": [10, 20, 30]}),
    (PolyLRScheduler, {"t_initial": 100}),
    (TanhLRScheduler, {"t_initial": 100}),
]
DECAYING = [
    (CosineLRScheduler, {"t_initial": 100}),
    (StepLRScheduler, {"decay_t": 10, "decay_rate": 0.5}),
    (MultiStepLRScheduler, {"decay_t": [10, 20, 30], "decay_rate": 0.5}),
    (PolyLRScheduler, {"t_initial": 100}),
    (TanhLRScheduler, {"t_initial": 100}),
]
NOISY = [case for case in BASIC if case[0] is not MultiStepLRScheduler]


def parametrize(cases):
    return pytest.mark.parametrize(
        "scheduler_cls,kwargs", cases, ids=[cls.__name__ for cls, _ in cases]
    )


def ref(test, scheduler_cls=None):
    return REFS[test if scheduler_cls is None else f"{test}[{scheduler_cls.__name__}]"]


def rates(schedule, steps):
    """s(t) for each t, in one jitted call on an int32 array (the optimizer count's dtype)."""
    return np.asarray(jax.jit(schedule)(jnp.asarray(list(steps), jnp.int32)))


def assert_timm(values, case):
    """Agreement with timm's recorded rates to float64 round-off."""
    np.testing.assert_allclose(values, case["lrs"], rtol=1e-12, atol=1e-15)


class TestSchedulerBasics:
    @parametrize([*BASIC[:3], (PlateauLRScheduler, {}), *BASIC[3:]])
    def test_scheduler_init(self, x64, scheduler_cls, kwargs):
        # timm asserts the scheduler holds its optimizer; an lrjax schedule holds none, so
        # the port checks what it builds and the rate in effect before any step.
        case = ref("scheduler_init", scheduler_cls)
        scheduler = scheduler_cls(0.1, **kwargs)
        if scheduler_cls is PlateauLRScheduler:
            assert isinstance(scheduler, timm.TimmPlateau)
            assert float(scheduler.lr(scheduler.init())) == case["initial"]
        elif scheduler_cls is TanhLRScheduler:
            assert isinstance(scheduler, Schedule)
            # lrjax differs: s(0) is the tanh value at t=0, while timm's constructor writes
            # base_lr itself into the group (documented in TanhLRScheduler and porting.md).
            expected = case["initial"] * (1 - math.tanh(-7.0)) / 2
            np.testing.assert_allclose(rates(scheduler, [0]), [expected], rtol=1e-12)
        else:
            assert isinstance(scheduler, Schedule)
            assert rates(scheduler, [0]).tolist() == [case["initial"]]

    @parametrize(BASIC)
    def test_scheduler_step(self, x64, scheduler_cls, kwargs):
        case = ref("scheduler_step", scheduler_cls)
        lrs = rates(scheduler_cls(0.1, **kwargs), range(10))
        assert_timm(lrs, case)
        assert lrs[-1] <= case["initial"]  # timm: the rate never rises above the initial one

    def test_plateau_scheduler_step(self, x64):
        scheduler = PlateauLRScheduler(0.1, patience_t=2, decay_rate=0.5)

        def step(state, metric):
            state = scheduler.step(state, metric)
            return state, scheduler.lr(state)

        # The same metric ten times in a row: a plateau.
        _, lrs = jax.lax.scan(step, scheduler.init(), jnp.ones(10))
        # lrjax differs: the k-th step is timm's step(epoch=k), k = 1, 2, ... (TimmPlateau's
        # docstring); the peer's step(0) counts as a warmup epoch and sets warmup_lr_init.
        assert_timm(np.asarray(lrs), ref("plateau_scheduler_step[from_1]"))


class TestWarmup:
    @parametrize(BASIC)
    def test_warmup_lr_increases(self, x64, scheduler_cls, kwargs):
        base_lr = 0.1
        warmup_lr_init = 0.001
        warmup_t = 5
        scheduler = scheduler_cls(
            base_lr, warmup_t=warmup_t, warmup_lr_init=warmup_lr_init, **kwargs
        )
        lrs = rates(scheduler, range(warmup_t))
        assert lrs[0] == pytest.approx(warmup_lr_init, rel=1e-5)
        assert np.all(np.diff(lrs) > 0)
        assert_timm(lrs[1:], ref("warmup_lr_increases", scheduler_cls))

    @parametrize(DECAYING)
    def test_warmup_prefix_reaches_target_lr(self, x64, scheduler_cls, kwargs):
        base_lr = 0.1
        warmup_lr_init = 0.001
        warmup_t = 5
        scheduler = scheduler_cls(
            base_lr,
            warmup_t=warmup_t,
            warmup_lr_init=warmup_lr_init,
            warmup_prefix=True,
            **kwargs,
        )
        lrs = rates(scheduler, range(warmup_t + 1))
        # With the prefix, the main schedule starts at its own t=0 right after the warmup.
        assert lrs[warmup_t] == pytest.approx(base_lr, rel=1e-5)
        assert_timm(lrs, ref("warmup_prefix_reaches_target_lr", scheduler_cls))


class TestCosineScheduler:
    def test_cosine_decay(self, x64):
        base_lr = 0.1
        lr_min = 0.001
        t_initial = 100
        scheduler = CosineLRScheduler(base_lr, t_initial=t_initial, lr_min=lr_min)
        start_lr, mid_lr, end_lr = rates(scheduler, [0, t_initial // 2, t_initial])
        assert start_lr == pytest.approx(base_lr, rel=1e-5)
        expected_mid = lr_min + 0.5 * (base_lr - lr_min) * (1 + math.cos(math.pi * 0.5))
        assert mid_lr == pytest.approx(expected_mid, rel=1e-2)
        assert end_lr == pytest.approx(lr_min, rel=1e-5)
        assert_timm([mid_lr, end_lr], ref("cosine_decay"))

    def test_cosine_cycles(self, x64):
        base_lr = 0.1
        lr_min = 0.001
        t_initial = 50
        cycle_limit = 2
        scheduler = CosineLRScheduler(
            base_lr, t_initial=t_initial, lr_min=lr_min, cycle_limit=cycle_limit
        )
        after = range(t_initial * cycle_limit, t_initial * cycle_limit + 10)
        lrs = rates(scheduler, [t_initial - 1, *after])
        assert lrs[0] < base_lr * 0.5  # near the end of the first cycle
        assert lrs[-1] == pytest.approx(lr_min, rel=1e-5)  # past the cycle limit
        assert_timm(lrs, ref("cosine_cycles"))

    def test_get_cycle_length(self, x64):
        # lrjax has no get_cycle_length(); the port checks the length it reports (t_initial,
        # plus warmup_t with the prefix) as where the single cycle ends: there the rate is
        # lr_min (0 here), and one step earlier it is not yet.
        t_initial = 100
        scheduler = CosineLRScheduler(0.1, t_initial=t_initial)
        before, end = rates(scheduler, [t_initial - 1, t_initial])
        assert before > 0 and end == 0
        warmup_t = 10
        scheduler_warmup = CosineLRScheduler(
            0.1, t_initial=t_initial, warmup_t=warmup_t, warmup_prefix=True
        )
        before, end = rates(scheduler_warmup, [t_initial + warmup_t - 1, t_initial + warmup_t])
        assert before > 0 and end == 0


class TestStepScheduler:
    def test_step_decay(self, x64):
        base_lr = 0.1
        decay_t = 10
        decay_rate = 0.5
        scheduler = StepLRScheduler(base_lr, decay_t=decay_t, decay_rate=decay_rate)
        lrs = rates(scheduler, [decay_t - 1, decay_t, 2 * decay_t])
        assert lrs[0] == pytest.approx(base_lr, rel=1e-5)
        assert lrs[1] == pytest.approx(base_lr * decay_rate, rel=1e-5)
        assert lrs[2] == pytest.approx(base_lr * decay_rate**2, rel=1e-5)
        assert_timm(lrs, ref("step_decay"))


class TestMultiStepScheduler:
    def test_multistep_decay(self, x64):
        base_lr = 0.1
        decay_t = [10, 20, 30]
        decay_rate = 0.5
        scheduler = MultiStepLRScheduler(base_lr, decay_t=decay_t, decay_rate=decay_rate)
        lrs = rates(scheduler, [8, 11, 21, 31])
        for passed, lr in enumerate(lrs):  # milestones passed: 0, 1, 2, 3
            assert lr == pytest.approx(base_lr * decay_rate**passed, rel=1e-5)
        assert_timm(lrs, ref("multistep_decay"))


class TestPolyScheduler:
    def test_poly_decay(self, x64):
        base_lr = 0.1
        lr_min = 0.001
        t_initial = 100
        power = 1.0  # linear
        scheduler = PolyLRScheduler(base_lr, t_initial=t_initial, lr_min=lr_min, power=power)
        start_lr, end_lr = rates(scheduler, [0, t_initial])
        assert start_lr == pytest.approx(base_lr, rel=1e-5)
        assert end_lr == pytest.approx(lr_min, rel=1e-5)
        assert_timm([end_lr], ref("poly_decay"))


class TestTanhScheduler:
    def test_tanh_decay(self, x64):
        base_lr = 0.1
        lr_min = 0.001
        t_initial = 100
        scheduler = TanhLRScheduler(base_lr, t_initial=t_initial, lr_min=lr_min)
        case = ref("tanh_decay")
        lrs = rates(scheduler, range(1, t_initial + 1))
        assert lrs[-1] < case["initial"]
        assert_timm(lrs, case)


class TestStepUpdate:
    @parametrize(DECAYING)
    def test_step_update_with_t_in_epochs_false(self, x64, scheduler_cls, kwargs):
        # lrjax differs: there is no t_in_epochs; s(t) is the rate for step t, whether t
        # counts updates or epochs, and passing t_in_epochs raises TypeError (porting.md).
        with pytest.raises(TypeError):
            scheduler_cls(0.1, t_in_epochs=False, **kwargs)
        case = ref("step_update_with_t_in_epochs_false", scheduler_cls)
        lrs = rates(scheduler_cls(0.1, **kwargs), range(50))
        assert lrs[-1] != case["initial"]
        assert_timm(lrs, case)


class TestMultipleParamGroups:
    @parametrize(BASIC)
    def test_multiple_param_groups(self, x64, scheduler_cls, kwargs):
        # timm's three param groups of one optimizer: three optax.partition groups, each an
        # lrjax SGD on the scheduled rate, updated once per epoch for 20 epochs.
        case = ref("multiple_param_groups", scheduler_cls)
        labels = ("group0", "group1", "group2")
        opt = optax.partition(
            {label: lrjax.sgd(scheduler_cls(0.1, **kwargs)) for label in labels},
            {label: label for label in labels},
        )
        params = {label: jnp.zeros((10, 5)) for label in labels}
        grads = jax.tree.map(jnp.ones_like, params)

        def update(carry, _):
            params, state = carry
            updates, state = opt.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, state), _ = jax.lax.scan(update, (params, opt.init(params)), length=20)
        for label in labels:
            final = float(lrjax.applied_lr(state.inner_states[label]))
            assert final <= case["initial"]
            np.testing.assert_allclose(final, case["lrs"][-1], rtol=1e-12)
            # Each group moved by exactly timm's rates (the gradient is 1).
            np.testing.assert_allclose(params[label], -sum(case["lrs"]), rtol=1e-12)


class TestNoise:
    @parametrize(NOISY)
    def test_noise_range(self, x64, scheduler_cls, kwargs):
        noisy = dict(noise_range_t=(10, 50), noise_pct=0.5, noise_seed=42, **kwargs)
        run1, run2 = scheduler_cls(0.1, **noisy), scheduler_cls(0.1, **noisy)
        both = jax.jit(lambda t: (run1(t), run2(t)))  # two schedules, one compilation
        lrs_run1, lrs_run2 = map(np.asarray, both(jnp.arange(60, dtype=jnp.int32)))
        # The same seed gives the same noise.
        np.testing.assert_array_equal(lrs_run1, lrs_run2)
        # lrjax differs: the draws come from jax.random.key(noise_seed), not torch's
        # generator (porting.md), so only timm's law is checked inside the range: the clean
        # rate times (1 + n) with |n| < noise_pct; outside it the rates are timm's own.
        timm_noisy = np.asarray(ref("noise_range", scheduler_cls)["lrs"])
        clean = np.asarray(REFS[f"noise_range[{scheduler_cls.__name__}][clean]"]["lrs"])
        inside = np.zeros(60, bool)
        inside[10:50] = True
        np.testing.assert_allclose(lrs_run1[~inside], timm_noisy[~inside], rtol=1e-12)
        assert np.all(np.abs(lrs_run1[inside] / clean[inside] - 1) < 0.5)
        assert np.all(lrs_run1[inside] != clean[inside])


class TestKDecay:
    def test_cosine_k_decay(self, x64):
        self.check_k_decay(CosineLRScheduler)

    def test_poly_k_decay(self, x64):
        self.check_k_decay(PolyLRScheduler)

    @staticmethod
    def check_k_decay(scheduler_cls):
        lrs_k1 = rates(scheduler_cls(0.1, t_initial=100, k_decay=1.0), range(100))
        lrs_k2 = rates(scheduler_cls(0.1, t_initial=100, k_decay=2.0), range(100))
        assert lrs_k1[50] != lrs_k2[50]  # a different k gives a different schedule
        name = scheduler_cls.__name__
        assert_timm(lrs_k1, REFS[f"k_decay[{name}][1.0]"])
        assert_timm(lrs_k2, REFS[f"k_decay[{name}][2.0]"])
