"""Keras 3's own learning-rate schedule tests, ported to `lrjax.compat.keras`.

Peer source: ``keras/src/optimizers/schedules/learning_rate_schedule_test.py`` in
github.com/keras-team/keras at commit 3422977a5e38fb2f7709aaa9a08e47f0c43d0f60.

Mapping: ``keras.optimizers.schedules.X(*args)`` is ``lrjax.compat.keras.X(*args)`` with the
same positional and keyword arguments, and ``schedule(step)`` is the same call. Keras' test
class ``FooTest`` is the class ``TestFoo`` here, with the same method names. The expected
values are Keras' own inline Python/numpy formulas, unchanged; Keras' ``assertAllClose``
default tolerances (atol = rtol = 1e-6) are kept. A ``backend.Variable`` step that the peer
reassigns becomes a runtime (jitted, traced) step argument of the same dtype.
``test_fit_lr_correctness`` replays the peer's Keras ``fit`` in JAX with Keras' Adam, which
is ``lrjax.scale_by_adam(eps=1e-7, eps_hat=True)`` (see docs/porting.md).

Not applicable:
- ExponentialDecayTest.test_config: Keras get_config/from_config serialization; lrjax
  schedules are pytrees with no config round trip.
- PiecewiseConstantDecayTest.test_config: the same (Keras serialization).
- LinearDecayTest.test_config: the same (Keras serialization).
- InverseTimeDecayTest.test_config: the same (Keras serialization).
- CosineDecayTest.test_config: the same (Keras serialization).
- CosineDecayRestartsTest.test_config: the same (Keras serialization).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lrjax
from lrjax.compat import keras as schedules


def assert_close(actual, desired, atol=1e-6, rtol=1e-6):
    """Keras' ``TestCase.assertAllClose`` (positional third argument: atol)."""
    np.testing.assert_allclose(np.asarray(actual), desired, atol=atol, rtol=rtol)


def at(schedule, value, dtype):
    """The schedule at a runtime step, as Keras evaluates it at a reassigned Variable."""
    return jax.jit(schedule)(jnp.asarray(value, dtype))


def test_fit_lr_correctness():
    # Keras: Dense(2) with ones initializers, Adam(ExponentialDecay(0.05, 1, 0.9)), mse loss,
    # fit on 16 samples for 3 epochs of 4 unshuffled batches of 4.
    schedule = schedules.ExponentialDecay(initial_learning_rate=0.05, decay_steps=1, decay_rate=0.9)
    opt = optax.chain(
        lrjax.scale_by_adam(0.9, 0.999, 1e-7, eps_hat=True),  # Keras' Adam defaults
        lrjax.scale_by_learning_rate(schedule),
    )
    params = {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}
    state = opt.init(params)
    # Before any update the only optimizer variable, the iteration count, is 0.
    assert int(state[1].count) == 0

    x = np.arange(32, dtype=np.float32).reshape((16, 2))
    batches = x.reshape(4, 4, 2)  # inputs and targets are the same array

    def loss_fn(p, xb):
        pred = xb @ p["kernel"] + p["bias"]
        return jnp.mean(jnp.mean((pred - xb) ** 2, axis=-1))

    @jax.jit
    def epoch(p, s):
        def train_step(carry, xb):
            p, s = carry
            loss, g = jax.value_and_grad(loss_fn)(p, xb)
            updates, s = opt.update(g, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (p, s), losses = jax.lax.scan(train_step, (p, s), batches)
        return p, s, jnp.mean(losses)  # Keras' epoch loss: the mean over the batches

    history = []
    for _ in range(3):
        params, state, loss = epoch(params, state)
        history.append(float(loss))
    assert int(state[1].count) == 4 * 3
    assert_close(history, [230.79457092285156, 128.30319213867188, 79.33648681640625], rtol=5e-5)


class TestExponentialDecay:
    def test_continuous(self):
        step = 5
        decayed_lr = schedules.ExponentialDecay(0.05, 10, 0.96)
        expected = 0.05 * 0.96 ** (5.0 / 10.0)
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_staircase(self):
        decayed_lr = schedules.ExponentialDecay(0.1, 3, 0.96, staircase=True)
        # Steps below decay_steps keep the initial rate under staircase.
        assert_close(at(decayed_lr, 1.0, jnp.float32), 0.1, 1e-6)
        assert_close(at(decayed_lr, 2, jnp.float32), 0.1, 1e-6)
        expected = 0.1 * 0.96 ** (100 // 3)
        assert_close(at(decayed_lr, 100, jnp.float32), expected, 1e-6)

    def test_variables(self):
        decayed_lr = schedules.ExponentialDecay(0.1, 3, 0.96, staircase=True)
        evaluate = jax.jit(decayed_lr)  # one compiled function, fed new step values
        assert_close(evaluate(jnp.float32(1)), 0.1, 1e-6)
        assert_close(evaluate(jnp.float32(2)), 0.1, 1e-6)
        expected = 0.1 * 0.96 ** (100 // 3)
        assert_close(evaluate(jnp.float32(100)), expected, 1e-6)


class TestPiecewiseConstantDecay:
    def test_piecewise_values(self):
        decayed_lr = schedules.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001])
        evaluate = jax.jit(decayed_lr)
        cases = [(-999.0, 1.0), (100, 1.0), (105, 0.1), (110, 0.1), (120, 0.01), (999, 0.001)]
        for x, expected in cases:
            assert_close(evaluate(jnp.float32(x)), expected, 1e-6)

    def test_boundary_values(self, x64):
        # The peer's point: int32 boundaries against an int64 step variable.
        boundaries, values = [1, 2, 3], [0.4, 0.5, 0.6, 0.7]
        decayed_lr = schedules.PiecewiseConstantDecay(boundaries, values)
        for x, expected in [(0, 0.4), (1, 0.4), (2, 0.5), (3, 0.6), (4, 0.7)]:
            assert_close(at(decayed_lr, x, jnp.int64), expected, 1e-6)


class TestLinearDecay:
    def test_halfway(self):
        step = 5
        lr = 0.05
        end_lr = 0.0
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr)
        expected = lr * 0.5
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_end(self):
        step = 10
        lr = 0.05
        end_lr = 0.001
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr)
        expected = end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_halfway_with_end(self):
        step = 5
        lr = 0.05
        end_lr = 0.001
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr)
        expected = (lr + end_lr) * 0.5
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_beyond_end(self):
        step = 15
        lr = 0.05
        end_lr = 0.001
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr)
        expected = end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_beyond_end_with_cycle(self):
        step = 15
        lr = 0.05
        end_lr = 0.001
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, cycle=True)
        expected = (lr - end_lr) * 0.25 + end_lr
        assert_close(decayed_lr(step), expected, 1e-6)


class TestSqrtDecay:
    def test_halfway(self):
        step = 5
        lr = 0.05
        end_lr = 0.0
        power = 0.5
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, power=power)
        expected = lr * 0.5**power
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_end(self):
        step = 10
        lr = 0.05
        end_lr = 0.001
        power = 0.5
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, power=power)
        expected = end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_halfway_with_end(self):
        step = 5
        lr = 0.05
        end_lr = 0.001
        power = 0.5
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, power=power)
        expected = (lr - end_lr) * 0.5**power + end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_beyond_end(self):
        step = 15
        lr = 0.05
        end_lr = 0.001
        power = 0.5
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, power=power)
        expected = end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_beyond_end_with_cycle(self):
        step = 15
        lr = 0.05
        end_lr = 0.001
        power = 0.5
        decayed_lr = schedules.PolynomialDecay(lr, 10, end_lr, power=power, cycle=True)
        expected = (lr - end_lr) * 0.25**power + end_lr
        assert_close(decayed_lr(step), expected, 1e-6)

    def test_begin_with_cycle(self):
        lr = 0.001
        decay_steps = 10
        step = 0
        decayed_lr = schedules.PolynomialDecay(lr, decay_steps, cycle=True)
        expected = lr
        assert_close(decayed_lr(step), expected, 1e-6)


class TestInverseTimeDecay:
    def test_decay(self):
        initial_lr = 0.1
        k = 10
        decay_rate = 0.96
        decayed_lr = jax.jit(schedules.InverseTimeDecay(initial_lr, k, decay_rate))
        for i in range(k + 1):  # the peer's float step variable, incremented by 1
            expected = initial_lr / (1 + i / k * decay_rate)
            assert_close(decayed_lr(jnp.float32(i)), expected, 1e-6)

    def test_staircase(self):
        initial_lr = 0.1
        k = 10
        decay_rate = 0.96
        schedule = schedules.InverseTimeDecay(initial_lr, k, decay_rate, staircase=True)
        decayed_lr = jax.jit(schedule)
        for i in range(k + 1):
            expected = initial_lr / (1 + decay_rate * (i // k))
            assert_close(decayed_lr(jnp.float32(i)), expected, 1e-6)


# The steps every cosine test loops over (the peer's range(0, 1500, 250)).
STEPS = list(range(0, 1500, 250))


def np_cosine_decay(step, decay_steps, alpha=0.0):
    step = min(step, decay_steps)
    completed_fraction = step / decay_steps
    decay = 0.5 * (1.0 + math.cos(math.pi * completed_fraction))
    return (1.0 - alpha) * decay + alpha


def linear_warmup(step, warmup_steps, initial_lr, target_lr):
    completed_fraction = step / warmup_steps
    total_delta = target_lr - initial_lr
    return completed_fraction * total_delta


def np_cosine_decay_restarts(step, decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    fac = 1.0
    while step >= decay_steps:
        step -= decay_steps
        decay_steps *= t_mul
        fac *= m_mul
    completed_fraction = step / decay_steps
    decay = fac * 0.5 * (1.0 + math.cos(math.pi * completed_fraction))
    return (1.0 - alpha) * decay + alpha


class TestCosineDecay:
    def test_decay(self):
        num_training_steps = 1000
        initial_lr = 1.0
        for step in range(0, 1500, 250):
            decayed_lr = schedules.CosineDecay(initial_lr, num_training_steps)
            expected = np_cosine_decay(step, num_training_steps)
            assert_close(decayed_lr(step), expected, 1e-6)

    def test_warmup(self):
        warmup_steps = 1500
        initial_lr = 0.0
        target_lr = 10.0
        for step in range(0, 1500, 250):
            lr = schedules.CosineDecay(
                initial_lr, 10, warmup_target=target_lr, warmup_steps=warmup_steps
            )
            expected = linear_warmup(step, warmup_steps, initial_lr, target_lr)
            assert_close(lr(step), expected)

    def test_alpha(self):
        num_training_steps = 1000
        initial_lr = 1.0
        alpha = 0.1
        for step in range(0, 1500, 250):
            decayed_lr = schedules.CosineDecay(initial_lr, num_training_steps, alpha)
            expected = np_cosine_decay(step, num_training_steps, alpha)
            assert_close(decayed_lr(step), expected, 1e-6)

    def test_float64(self, x64):
        num_training_steps = 1000
        initial_lr = np.float64(1.0)
        for step in range(0, 1500, 250):
            decayed_lr = schedules.CosineDecay(initial_lr, num_training_steps)
            expected = np_cosine_decay(step, num_training_steps)
            assert_close(decayed_lr(step), expected, 1e-6)

    def test_warmup_decay(self):
        warmup_steps = 2000
        decay_steps = 1000
        initial_lr = 0.0
        target_lr = 10.0
        for step in range(0, 3000, 250):
            lr = schedules.CosineDecay(
                initial_lr, decay_steps, warmup_target=target_lr, warmup_steps=warmup_steps
            )
            if step < warmup_steps + 1:
                expected = linear_warmup(step, warmup_steps, initial_lr, target_lr)
            else:
                expected = target_lr * np_cosine_decay(step - warmup_steps, decay_steps)
            assert_close(lr(step), expected)


class TestCosineDecayRestarts:
    def test_decay(self):
        num_training_steps = 1000
        initial_lr = 1.0
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, num_training_steps)
        expected = [np_cosine_decay_restarts(step, num_training_steps) for step in STEPS]
        assert_close(decayed_lr(jnp.asarray(STEPS)), expected, 1e-6)

    def test_float64(self, x64):
        num_training_steps = 1000
        initial_lr = np.float64(1.0)
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, num_training_steps)
        expected = [np_cosine_decay_restarts(step, num_training_steps) for step in STEPS]
        assert_close(decayed_lr(jnp.asarray(STEPS)), expected, 1e-6)

    def test_alpha(self):
        num_training_steps = 1000
        initial_lr = 1.0
        alpha = 0.1
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, num_training_steps, alpha=alpha)
        expected = [np_cosine_decay_restarts(s, num_training_steps, alpha=alpha) for s in STEPS]
        assert_close(decayed_lr(jnp.asarray(STEPS)), expected, 1e-6)

    def test_mmul(self):
        num_training_steps = 1000
        initial_lr = 1.0
        m_mul = 0.9
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, num_training_steps, m_mul=m_mul)
        expected = [np_cosine_decay_restarts(s, num_training_steps, m_mul=m_mul) for s in STEPS]
        assert_close(decayed_lr(jnp.asarray(STEPS)), expected, 1e-6)

    def test_tmul(self):
        num_training_steps = 1000
        initial_lr = 1.0
        t_mul = 1.0
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, num_training_steps, t_mul=t_mul)
        expected = [np_cosine_decay_restarts(s, num_training_steps, t_mul=t_mul) for s in STEPS]
        assert_close(decayed_lr(jnp.asarray(STEPS)), expected, 1e-6)
