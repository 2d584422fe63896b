"""Per-epoch and per-unit stepping (issue 18): `staircase` against torch 2.13's schedulers
stepped once per epoch and PureJaxRL's per-update annealing (written out here from its
source), `rescale` against the closed form."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrjax import schedules as S
from lrjax.compat import torch as T

torch = pytest.importorskip("torch")


def torch_rates_per_update(make_scheduler, epochs: int, per_epoch: int) -> list[float]:
    """The rate each update uses when the scheduler steps after every epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(opt)
    rates = []
    for _ in range(epochs):
        for _ in range(per_epoch):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (T.StepLR(0.1, 2, 0.5), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5)),
        (T.CosineAnnealingLR(0.1, 6), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 6)),
        (
            T.CosineAnnealingWarmRestarts(0.1, 3),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 3),
        ),
    ],
)
def test_a_torch_scheduler_stepped_per_epoch(x64, ours, theirs):
    expected = torch_rates_per_update(theirs, epochs=8, per_epoch=5)
    got = S.staircase(ours, 5)(jnp.arange(len(expected)))  # elementwise in the step
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_purejaxrl_annealing_moves_once_per_update():
    """PureJaxRL's ``linear_schedule``: ``lr * (1 - (count // (minibatches * epochs)) /
    num_updates)``, count being Adam's step."""
    lr, minibatches, epochs, updates = 2.5e-4, 4, 4, 10
    schedule = S.staircase(S.linear(lr, 0.0, updates), minibatches * epochs)
    count = np.arange(minibatches * epochs * updates + 5)
    expected = np.maximum(lr * (1.0 - (count // (minibatches * epochs)) / updates), 0.0)
    np.testing.assert_allclose(schedule(jnp.asarray(count)), expected, rtol=1e-6, atol=1e-12)


def test_rescale_evaluates_at_fractional_units():
    schedule = S.rescale(S.cosine_decay(1.0, 10), 4)  # ten epochs of four updates
    k = np.array([0, 1, 7, 20, 39, 40, 50])
    expected = 0.5 * (1 + np.cos(math.pi * np.minimum(k / 4, 10) / 10))
    np.testing.assert_allclose(schedule(jnp.asarray(k)), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="rescale needs a closed-form schedule.*staircase"):
        S.rescale(S.warm_restarts(0.1, 10), 4)
    with pytest.raises(ValueError, match="every"):
        S.staircase(S.constant(0.1), 0)


def test_a_traced_unit_vmaps_like_a_loop():
    inner = S.linear(1.0, 0.0, 8)
    every = jnp.array([1, 2, 5])
    together = jax.vmap(lambda e: S.staircase(inner, e)(jnp.arange(12)))(every)
    for i, e in enumerate([1, 2, 5]):
        np.testing.assert_allclose(together[i], S.staircase(inner, e)(jnp.arange(12)))
    stretched = jax.vmap(lambda e: S.rescale(inner, e)(6))(jnp.array([2.0, 3.0]))
    np.testing.assert_allclose(stretched, [1 - 3 / 8, 1 - 2 / 8], rtol=1e-6)
