"""Every optimizer and adaptive method on complex leaves, as optax defines them: second
moments are |g|² = g·conj(g) and the learning-rate-free methods' inner products are
re(conj(a)·b), i.e. the complex vector seen as a real one of twice the length.

Two properties pin that down without reference numbers:
* A complex leaf with zero imaginary part follows the real run exactly: |g|² = g² there.
* The trajectory is equivariant under a global phase: rotating the start and the target by
  w = e^{iθ} rotates every iterate by w. |g|² and re(conj(a)·b) are phase-invariant; the
  old g·g "moment" rotates by w² and breaks this (the issue's adam(0.1) at p = 0,
  g = 1 + 2j gave -0.1 + 0j instead of optax's -0.0447 - 0.0894j).
The peers' own complex cases (optax's alias and contrib suites, torch's test_complex) are
in tests/peers/.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lrjax
from lrjax import adaptive as A

OPTIMIZERS = {
    "sgd": lambda: lrjax.sgd(0.05),
    "sgd_nesterov_wd": lambda: lrjax.sgd(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda: lrjax.adam(0.05),
    "adam_amsgrad": lambda: lrjax.adam(0.05, amsgrad=True),
    "adamw": lambda: lrjax.adamw(0.05),
    "nadam": lambda: lrjax.nadam(0.05),
    "radam": lambda: lrjax.radam(0.05),
    "adamax": lambda: lrjax.adamax(0.05),
    "adamaxw": lambda: lrjax.adamaxw(0.05),
    "asgd": lambda: lrjax.asgd(0.05, lambd=0.1, t0=3.0),
    # every leaf a table: presence (g ≠ 0) is phase-invariant
    "lazy_adam": lambda: lrjax.lazy_adam(0.05, tables=True),
    "lazy_adagrad": lambda: lrjax.lazy_adagrad(0.1, lr_decay=0.01, tables=True),
    "average_iterates_ema": lambda: lrjax.average_iterates(lrjax.adam(0.05), "ema", start=3),
    "signum": lambda: lrjax.signum(0.05),
    "lion": lambda: lrjax.lion(0.05),
    "adabelief": lambda: lrjax.adabelief(0.05),
    # Yogi's first moment starts at a real constant (optax's 1e-6), which a global phase
    # does not rotate: starting from 0 makes the run phase-equivariant.
    "yogi": lambda: lrjax.yogi(0.05, initial_accumulator_value=0.0),
    # Adafactor's moments and parameter scale are |g|² and RMS |θ|; momentum complex
    "adafactor": lambda: lrjax.adafactor(0.05, momentum=0.9, weight_decay_rate=1e-3),
    "adafactor_relative": lambda: lrjax.adafactor(),
    "sm3": lambda: lrjax.sm3(0.05),
    # Trust ratios and NovoGrad's layer-wise moment use the norm sqrt(Σ |x|²)
    "lars": lambda: lrjax.lars(0.5, 1e-2, trust_coefficient=0.1, nesterov=True),
    "lamb": lambda: lrjax.lamb(0.05, weight_decay=1e-2),
    "novograd": lambda: lrjax.novograd(0.05, weight_decay=1e-2),
    "adagrad": lambda: lrjax.adagrad(0.1, lr_decay=0.01),
    "adadelta": lambda: lrjax.adadelta(1.0),
    "rmsprop": lambda: lrjax.rmsprop(0.01),
    "rmsprop_centered_momentum": lambda: lrjax.rmsprop(0.01, centered=True, momentum=0.9),
    "dog": lambda: A.dog(),
    "ldog": lambda: A.dog(layerwise=True),
    "dog_averaged": lambda: A.polynomial_average(A.dog()),
    "dadapt_adam": lambda: A.dadapt_adam(),
    "dadapt_sgd": lambda: A.dadapt_sgd(0.3, momentum=0.9),
    "dadapt_adagrad": lambda: A.dadapt_adagrad(),
    "prodigy": lambda: A.prodigy(),
    "dowg": lambda: A.dowg(),
    "cocob": lambda: A.cocob(weight_decay=0.01),
    "mechanize_adam": lambda: A.mechanize(lrjax.adam(0.05), s_init=1e-3),
    "polyak_sgd": lambda: A.polyak_sgd(0.5),
    "schedule_free_sgd": lambda: A.schedule_free_sgd(0.05, warmup_steps=5),
    "schedule_free_adamw": lambda: A.schedule_free_adamw(0.05),
    "sgd_hd": lambda: A.sgd_hd(0.02, 1e-5),
    "sgd_hd_multiplicative": lambda: A.sgd_hd(0.02, 1e-3, multiplicative=True, max_lr=0.1),
    "adam_hd": lambda: A.adam_hd(0.05, 1e-4),
    "adam + reduce_on_plateau": lambda: optax.chain(lrjax.adam(0.05), A.reduce_on_plateau(0.5, 2)),
    "adam + scale_by_loss": lambda: optax.chain(lrjax.adam(0.05), A.scale_by_loss(1.0)),
    "adam + decay_on_gradient_stall": lambda: optax.chain(
        lrjax.adam(0.05), A.decay_on_gradient_stall(0.5, 2, 1e-2)
    ),
}

SCALES = jnp.array([1.0, 2.0, 5.0, 0.5])


def _trajectory(opt, start, target, steps=30):
    """Iterates of `opt` on the loss Σ s |z - t|², given its gradient 2 s (z - t) (the
    direction optax descends for complex leaves) and the loss as ``value``."""
    opt = optax.with_extra_args_support(opt)

    def step(carry, _):
        z, state = carry
        diff = z["a"] - target["a"]
        loss = jnp.sum(SCALES * jnp.abs(diff) ** 2) + jnp.abs(z["b"] - target["b"]) ** 2
        grads = {"a": 2 * SCALES * diff, "b": 2 * (z["b"] - target["b"])}
        updates, state = opt.update(grads, state, z, value=loss)
        z = optax.apply_updates(z, updates)
        return (z, state), z

    return jax.lax.scan(step, (start, opt.init(start)), length=steps)[1]


START = {"a": np.array([0.3, -1.2, 2.0, 0.7]), "b": np.array(1.5)}
TARGET = {"a": np.array([1.0, 0.5, -0.5, 2.0]), "b": np.array(-0.25)}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_zero_imaginary_part_follows_the_real_run(name, x64):
    real = jax.jit(lambda s, t: _trajectory(OPTIMIZERS[name](), s, t))(START, TARGET)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(real))
    as_complex = jax.tree.map(lambda x: jnp.asarray(x, jnp.complex128), (START, TARGET))
    got = jax.jit(lambda s, t: _trajectory(OPTIMIZERS[name](), s, t))(*as_complex)
    for leaf_got, leaf_real in zip(jax.tree.leaves(got), jax.tree.leaves(real), strict=True):
        assert leaf_got.dtype == jnp.complex128
        np.testing.assert_array_equal(leaf_got.imag, 0.0)
        np.testing.assert_allclose(leaf_got.real, leaf_real, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_global_phase_rotates_the_trajectory(name, x64):
    rng = np.random.default_rng(3)
    start = {"a": rng.normal(size=4) + 1j * rng.normal(size=4), "b": np.array(1.5 - 0.5j)}
    target = {"a": rng.normal(size=4) + 1j * rng.normal(size=4), "b": np.array(-0.25 + 1j)}
    w = np.exp(0.7j)
    run = jax.jit(lambda s, t: _trajectory(OPTIMIZERS[name](), s, t))
    base = run(start, target)
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(base))
    rotated = run(*jax.tree.map(lambda x: jnp.asarray(w * x, jnp.complex128), (start, target)))
    for leaf_rot, leaf in zip(jax.tree.leaves(rotated), jax.tree.leaves(base), strict=True):
        # Rounding differs between the two runs; Prodigy's and D-Adaptation's estimates
        # amplify it to about 1e-9 over 30 steps. A g·g moment is off by O(1).
        np.testing.assert_allclose(leaf_rot, w * leaf, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_complex64_state_and_updates_keep_their_dtypes(name):
    opt = optax.with_extra_args_support(OPTIMIZERS[name]())
    params = {"a": jnp.ones(3, jnp.complex64), "b": jnp.ones((), jnp.complex64)}
    state = opt.init(params)
    grads = jax.tree.map(lambda p: (1 - 2j) * p, params)
    updates, new_state = jax.jit(opt.update)(grads, state, params, value=jnp.asarray(1.0))
    assert jax.tree.map(lambda u: u.dtype, updates) == jax.tree.map(lambda p: p.dtype, params)
    # The state keeps its structure and dtypes (second moments real, buffers complex).
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert jax.tree.map(lambda x: x.dtype, new_state) == jax.tree.map(lambda x: x.dtype, state)
    assert all(np.isfinite(np.asarray(u)).all() for u in jax.tree.leaves(updates))


def test_rprop_steps_the_real_and_imaginary_parts_as_coordinates():
    """Rprop's sign rule is per real coordinate (torch's view_as_real), so a global phase
    does not rotate its trajectory; a complex leaf equals its two real parts run apart."""
    opt = lrjax.rprop(0.05)
    z = jnp.array([1.0 - 2.0j, 0.5 + 0.25j], jnp.complex64)
    real = jnp.concatenate([z.real, z.imag])
    state_z, state_r = opt.init(z), opt.init(real)
    for k in range(6):
        gz = jnp.conj(z) * (k + 1) - 1j  # any gradient; its parts drive the real run
        gr = jnp.concatenate([gz.real, gz.imag])
        uz, state_z = opt.update(gz, state_z, z)
        ur, state_r = opt.update(gr, state_r, real)
        z, real = z + uz, real + ur
        assert uz.dtype == jnp.complex64
        np.testing.assert_allclose(jnp.concatenate([z.real, z.imag]), real, rtol=1e-6)
