"""Rprop: a step size per coordinate, grown while the gradient keeps its sign and shrunk
when it flips; only the gradient's sign moves the parameter.

Complex parameters: the real and imaginary parts are separate coordinates, each with
its own step size (the complex step-size array holds both), as torch's ``view_as_real``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import check_structure, leafwise


class ScaleByRpropState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    step_sizes: optax.Updates  # η_i per coordinate (complex leaves: re and im parts)
    prev: optax.Updates  # the last gradient, 0 where its sign had flipped

    def applied_lr(self) -> jax.Array:
        """The mean step size over every coordinate: a summary for logging, since each
        coordinate has its own."""
        parts = [
            jnp.concatenate([x.real.ravel(), x.imag.ravel()]) if jnp.iscomplexobj(x) else x.ravel()
            for x in jax.tree.leaves(self.step_sizes)
        ]
        return jnp.mean(jnp.concatenate(parts)) if parts else jnp.zeros([])


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.NONNEGATIVE,
    eta_minus=_checks.real(0, 1, open_low=True, open_high=True),
    eta_plus=_checks.real(1, open_low=True),
    min_step_size=_checks.NONNEGATIVE,
    max_step_size=_checks.real(0, open_low=True),
)
def rprop(
    learning_rate: ArrayLike = 1e-2,
    eta_minus: ArrayLike = 0.5,
    eta_plus: ArrayLike = 1.2,
    min_step_size: ArrayLike = 1e-6,
    max_step_size: ArrayLike = 50.0,
) -> optax.GradientTransformation:
    """Rprop, per coordinate i and update t (η_i starts at ``learning_rate``):

        s = sign(g_t · g_{t-1})
        η_i ← clip(η_i · (eta_plus if s > 0, eta_minus if s < 0, 1 if s = 0),
                   min_step_size, max_step_size)
        g_t ← 0 where s < 0 (no step, and no sign to compare with next time)
        θ ← θ - η_i sign(g_t)

    ``learning_rate`` (>= 0; 0 starts at the clip's floor) is the initial step size: it
    is not applied again after the first update, as in torch, whose schedulers therefore
    do not move Rprop. It may be traced, and so may the rule's constants.

    References: Riedmiller & Braun, "A direct adaptive method for faster backpropagation
    learning: the RPROP algorithm", ICNN 1993; ``torch.optim.Rprop`` (the rule above,
    single-tensor form). ``optax.rprop`` differs: its ``scale_by_rprop`` returns the
    previous step's update (masked by the current sign flip), so its first update is 0
    and each later one lags; lrjax follows the paper and torch.
    """

    def init(params):
        def one(p):
            start = jnp.asarray(learning_rate, jnp.result_type(p.real.dtype, jnp.float32))
            step = jnp.full(p.shape, start, p.real.dtype)
            return (
                jax.lax.complex(step, step).astype(p.dtype)
                if jnp.iscomplexobj(p)
                else step.astype(p.dtype)
            )

        steps = jax.tree.map(one, params)
        return ScaleByRpropState(
            jnp.zeros([], jnp.int32), steps, jax.tree.map(jnp.zeros_like, params)
        )

    def real_rule(g, step, prev):
        dtype = jnp.promote_types(g.dtype, jnp.float32)
        g, step, prev = g.astype(dtype), step.astype(dtype), prev.astype(dtype)
        s = jnp.sign(g * prev)
        # a NaN sign (a NaN gradient now or before) stays NaN in the factor, and so in
        # the step size from then on, as torch's in-place masks leave it: never silent
        plus, minus = jnp.asarray(eta_plus, dtype), jnp.asarray(eta_minus, dtype)
        factor = jnp.where(s > 0, plus, jnp.where(s < 0, minus, jnp.where(s == 0, 1, s)))
        step = jnp.clip(
            step * factor, jnp.asarray(min_step_size, dtype), jnp.asarray(max_step_size, dtype)
        )
        g = jnp.where(s < 0, 0, g)
        return -jnp.sign(g) * step, step, g

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.prev, "optimizer state (built from the params)")

        def leaf(g, step, prev):
            if jnp.iscomplexobj(g):
                re = real_rule(g.real, step.real, prev.real)
                im = real_rule(g.imag, step.imag, prev.imag)
                out = [jax.lax.complex(a, b) for a, b in zip(re, im, strict=True)]
            else:
                out = real_rule(g, step, prev)
            return tuple(o.astype(r.dtype) for o, r in zip(out, (g, step, prev), strict=True))

        out, steps, prev = leafwise(leaf, updates, state.step_sizes, state.prev)
        return out, ScaleByRpropState(optax.safe_increment(state.count), steps, prev)

    return optax.GradientTransformation(init, update)
