"""Mechanic: a learned scale s for the updates of any base optimizer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    check_structure,
    compute_dtype,
    inner,
    tree_norm,
    tree_sum,
)


class MechanicState(NamedTuple):
    count: jax.Array  # int32 t, updates applied (saturating)
    r: jax.Array  # (n,) rewards, one per β
    m: jax.Array  # (n,) running maxima of |h|
    v: jax.Array  # (n,) discounted sums of h²
    s: jax.Array  # (n,) the scales; the params move by their sum Σs
    x0: optax.Params  # the reference point: the params of the first update
    delta: optax.Params | None  # Δ, kept in at least float32 (with store_delta only)
    base: optax.OptState  # the base optimizer's state

    def applied_lr(self) -> Any:
        """Σs times the base optimizer's rate where its state reports one (an lrjax
        base), else Σs: the factor on the base's updates."""
        from lrjax.transforms.applied import find_rate

        total = jnp.sum(self.s, axis=-1)
        rate = find_rate(self.base)
        return total if rate is None else jax.tree.map(lambda r: r * total, rate)


def _betas(n: int) -> list[float]:
    """β_i = 1 - 0.1^i, i = 1..n, as optax writes them (Python floats)."""
    return [1.0 - 0.1**i for i in range(1, n + 1)]


def _mechanic(
    base: optax.GradientTransformation,
    weight_decay: ArrayLike,
    eps: ArrayLike,
    s_init: ArrayLike,
    betas: Any,
    *,
    package: bool,
    store_delta: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """The two forms: optax's (``package=False``) and mechanic-pytorch 0.0.1's."""
    base = optax.with_extra_args_support(base)
    n = len(betas) if isinstance(betas, (list, tuple)) else int(jnp.shape(betas)[0])

    def init(params):
        dtype = jnp.result_type(float)
        zeros = jnp.zeros([n], dtype)
        s = zeros if package else jnp.full([n], s_init, dtype)
        m = jnp.full([n], 1e-6, dtype) if package else zeros
        return MechanicState(
            jnp.zeros([], jnp.int32),
            jnp.zeros([n], dtype),
            m,
            jnp.zeros([n], dtype),
            s,
            jax.tree.map(jnp.array, params),
            jax.tree.map(lambda p: jnp.zeros(p.shape, compute_dtype(p)), params)
            if store_delta
            else None,
            base.init(params),
        )

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("mechanize needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        u, base_state = base.update(updates, state.base, params, **extra_args)
        dtype = state.s.dtype
        lam, e, s0 = (jnp.asarray(h, dtype) for h in (weight_decay, eps, s_init))
        b = jnp.asarray(betas, dtype)
        first = state.count == 0
        # The reference point is the params of the first update (not those of init), so
        # that weights loaded after init are the start, as in both references.
        x0 = jax.tree.map(lambda p, r: jnp.where(first, p, r), params, state.x0)
        total = jnp.sum(state.s)

        def wide(x):
            return x.astype(jnp.promote_types(x.dtype, dtype))

        # Δ = (x - x0) / (Σs + ε), the base's displacement so far in units of the scale.
        if store_delta:
            delta = state.delta
        else:
            delta = jax.tree.map(lambda p, r: (wide(p) - wide(r)) / (total + e), params, x0)
        # The decay term λ Σs |g| x / (|x| + ε) on the gradient; the package takes x after
        # the base step, x + u.
        at = jax.tree.map(lambda p, d: wide(p) + wide(d), params, u) if package else params
        factor = lam * total * tree_norm(updates) / (tree_norm(at) + e)
        # h = <g̃, Δ>: the derivative of the loss along the scale (the package's sign).
        h = tree_sum(lambda g, x, d: inner(wide(g) + factor * wide(x), d), updates, at, delta)
        # A product of finite gradients and distances can overflow (|g| = 1e30 in float32):
        # kept at the largest finite value, v = inf gives s = 0 (the params return to x0)
        # where inf / inf would give NaN. NaN stays NaN.
        big = jnp.finfo(dtype).max
        h = jnp.clip(h, -big, big)
        if package:
            m = jnp.maximum(b * state.m, jnp.abs(h))
            r = jnp.maximum(b * state.r - state.s * h, 0)
        else:
            m = jnp.maximum(b * state.m, jnp.abs(h) + e)
            r = b * state.r - jnp.clip(h, -state.m, state.m) * state.s
        v = b * b * state.v + h * h
        wealth = s0 / n * m + jnp.maximum(r, 0)
        s = wealth / (jnp.sqrt(v) + e)
        # x_{t+1} = x0 + Σs_new (Δ + u): the base's iterate, rescaled about x0.
        new_total = jnp.sum(s)
        new_delta = jax.tree.map(lambda d, w: (d + wide(w)).astype(d.dtype), delta, u)
        out = jax.tree.map(
            lambda p, r, d: (wide(r) + new_total * d - wide(p)).astype(p.dtype),
            params,
            x0,
            new_delta,
        )
        count = optax.safe_increment(state.count)
        kept = new_delta if store_delta else None
        return out, MechanicState(count, r, m, v, s, x0, kept, base_state)

    return optax.GradientTransformationExtraArgs(init, update)


@copies_arrays
@_checks.arguments(
    weight_decay=_checks.NONNEGATIVE,
    eps=_checks.POSITIVE,
    s_init=_checks.POSITIVE,
    num_betas=_checks.integer(1),
)
def mechanize(
    base_optimizer: optax.GradientTransformation,
    weight_decay: ArrayLike = 1e-2,
    eps: ArrayLike = 1e-8,
    s_init: ArrayLike = 1e-6,
    num_betas: int = 6,
    *,
    store_delta: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Mechanic: learn the scale of the updates u_t of `base_optimizer`. For update t with
    gradient g, n = num_betas scales s (Σs their sum) and β_i = 1 - 0.1^i:

        x0 = the params at the first update;  Δ = (x - x0) / (Σs + ε)
        g̃ = g + λ Σs |g| / (|x| + ε) x                  (λ = weight_decay)
        h = <g̃, Δ>     (< 0 while the loss still falls along the direction travelled)
        m ← max(β m, |h| + ε),   v ← β² v + h²,   r ← β r - clip(h, -m_prev, m_prev) s
        s = ((s_init / n) m + max(r, 0)) / (sqrt(v) + ε)
        x_{t+1} = x0 + Σs (Δ + u_t)

    (all per β, elementwise over the n entries). The base's own learning rate (constant
    or a schedule) stays: Mechanic learns the factor on it, so keep the base's rate at
    a value such as 1 (SGD) or 1e-3 (Adam) and its schedule's shape. The inner product
    and the norms run over the whole tree; complex leaves use re(conj(a)·b) and |x|².
    ``weight_decay``, ``eps`` and ``s_init`` may be traced; ``num_betas`` sets the
    state's shape and is static. ``applied_lr`` reports Σs times the base's rate (Σs
    alone where the base is not an lrjax transformation).

    ``store_delta=True`` keeps Δ in the state (in at least float32, one more copy of the
    params) and moves it by u_t, instead of recomputing it from x: the rule becomes
    Δ_{t+1} = Δ_t + u_t (without optax's factor Σs / (Σs + ε)), as the package's
    ``store_delta`` option. Use it for bfloat16 params: recomputed from rounded params, Δ
    carries their rounding error divided by Σs (bf16's 4e-3 over Σs = 1e-2 is 0.4), and
    the run wanders off the float32 one, in optax as well.

    This is optax's ``contrib.mechanize`` (same defaults, same state values; optax's h
    is the negative of this one, which is the reference package's). The
    mechanic-pytorch 0.0.1 package differs in five places: s starts at 0 (s_init only
    enters the wealth), m starts at 1e-6 and is ``max(β m, |h|)``, r is clamped at 0 in
    the state and h is not clipped, the decay term uses the params after the base step,
    and its defaults are ``s_init=1e-8`` and an explicit list of betas.
    `lrjax.compat.mechanic.mechanize` reproduces it.

    References: Cutkosky, Defazio & Mehta, "Mechanic: a learning rate tuner", NeurIPS
    2023; ``optax.contrib.mechanize`` (optax 0.2.8); optimizedlearning/mechanic
    ``mechanic_pytorch.mechanize`` 0.0.1.
    """
    return _mechanic(
        base_optimizer,
        weight_decay,
        eps,
        s_init,
        _betas(int(num_betas)),
        package=False,
        store_delta=store_delta,
    )
