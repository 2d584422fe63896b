"""Every loss-aware, online and learning-rate-free method minimises a convex quadratic and
the Rosenbrock function; and (slow) trains the digits MLP close to a tuned Adam.

Settings are the defaults wherever the method is learning-rate-free. The SGD-type methods
need a rate that is stable for Rosenbrock's curvature (about 1e3 along the valley, so
steps below 2e-3): D-Adapted SGD's step is d / |g_0| and the rate scales it. Thresholds sit
about ten times above the values measured when the tests were written.
"""

import jax
import jax.numpy as jnp
import optax
import pytest

import lrjax
from lrjax import adaptive as A
from lrjax import schedules as S

METHODS = {
    # At a constant rate Prodigy's Adam step stays about d = 0.85 near Rosenbrock's
    # minimum and the end point is chaotic (0.08 to 0.2 relative loss after 10k steps,
    # depending on float rounding); its authors pair it with cosine annealing.
    "prodigy": lambda: A.prodigy(S.cosine_decay(1.0, 10_000)),
    "dadapt_adam": lambda: A.dadapt_adam(),
    "dadapt_sgd": lambda: A.dadapt_sgd(0.3, momentum=0.9),
    "dadapt_adagrad": lambda: A.dadapt_adagrad(),
    "dog": lambda: A.dog(),
    "ldog": lambda: A.dog(layerwise=True),
    "dowg": lambda: A.dowg(),
    "cocob": lambda: A.cocob(),
    # Mechanic learns the scale of a base whose own rate and schedule are kept. Its first
    # steps are s_init times the base's: with Adam's 1e-2 they are 1e-8, below float32's
    # resolution at Rosenbrock's start (-1.2, 1), and Mechanic never moves (measured with
    # rate 0.1: 2.2e-3)
    "mechanize_adam": lambda: A.mechanize(lrjax.adam(S.cosine_decay(0.1, 10_000))),
    # the minimum of both functions is 0: f_min = 0 is exact
    "polyak_sgd": lambda: A.polyak_sgd(),
    "schedule_free_sgd": lambda: A.schedule_free_sgd(2e-3, warmup_steps=100),
    "schedule_free_adamw": lambda: A.schedule_free_adamw(0.01),
    "sgd_hd": lambda: A.sgd_hd(1e-4, 1e-9, 0.9),
    "sgd_hd_multiplicative": lambda: A.sgd_hd(1e-4, 0.02, multiplicative=True, max_lr=1.5e-3),
    "adam_hd": lambda: A.adam_hd(0.01, 1e-6),
    "adam + reduce_on_plateau": lambda: optax.chain(lrjax.adam(0.01), A.reduce_on_plateau(0.5, 20)),
    "adam + scale_by_loss": lambda: optax.chain(lrjax.adam(0.01), A.scale_by_loss(1.0)),
    "adam + decay_on_gradient_stall": lambda: optax.chain(
        lrjax.adam(0.01), A.decay_on_gradient_stall(0.5, 50, 1e-4)
    ),
}

Q = jnp.diag(jnp.array([1.0, 2.0, 5.0, 10.0]))


def quadratic(p):
    return 0.5 * (p - 1) @ Q @ (p - 1)


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def _relative_final_loss(opt, f, p0, steps):
    opt = optax.with_extra_args_support(opt)

    def step(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(f)(p)
        u, s = opt.update(g, s, p, value=loss)
        return (optax.apply_updates(p, u), s), None

    (p, _), _ = jax.jit(lambda: jax.lax.scan(step, (p0, opt.init(p0)), length=steps))()
    return float(f(p) / f(p0))


@pytest.mark.parametrize("name", METHODS)
def test_minimises_quadratic(name):
    assert _relative_final_loss(METHODS[name](), quadratic, jnp.zeros(4), 2000) < 1e-2


@pytest.mark.parametrize("name", METHODS)
def test_minimises_rosenbrock(name):
    rel = _relative_final_loss(METHODS[name](), rosenbrock, jnp.array([-1.2, 1.0]), 10_000)
    assert rel < 1e-2


@pytest.mark.slow
def test_digits_mlp_learning_rate_free_close_to_tuned_adam():
    pytest.importorskip("sklearn")
    from examples.digits_lrfree import run

    results = run(steps=1500)
    adam = next(v for k, v in results.items() if k.startswith("adam (tuned"))
    assert adam > 0.95
    for name, acc in results.items():
        assert acc > adam - 0.03, (name, acc, adam)  # within 3 points of the tuned Adam
