"""Lazy (sparse) Adam and AdaGrad for embedding tables: only the rows that have a
gradient move their moments and their parameters.

A *row* is a slice along axis 0 of a *table* leaf (``table[i]``), and a row is *present*
in an update when its gradient has a non-zero entry. Absent rows keep their moments and
parameters exactly as they were, as ``torch.optim.SparseAdam`` (and ``torch.optim.Adagrad``
with sparse gradients) and TensorFlow Addons' ``LazyAdam`` leave the rows that a sparse
gradient does not index.

Which leaves are tables: ``tables=None`` (the default) takes every leaf with two or more
dimensions (an embedding ``(vocab, dim)``, a conv kernel's leading axis...) and updates
the others (biases, scalars) as the dense method does; ``tables=True`` takes every leaf
(a 1-D leaf's rows are its entries, a 0-D leaf is one row), ``False`` none; or pass a
pytree of bools with the params' structure (or a prefix of it), or a callable from the
gradient tree to such a pytree, as ``optax.masked`` takes.

The difference from torch: JAX gradients are dense arrays, not index lists, so presence
is read from the values. A row that the batch did look up but whose gradient happens to
be exactly zero in every entry is absent here (its moments do not decay), where torch
counts it present (its moments decay towards 0). Rows that a batch does not touch have
exactly zero gradient under ``jax.grad`` of a lookup ``table[idx]``, so the two agree on
the usual embedding losses. A NaN row counts as present, so a NaN is never hidden.

Complex parameters: second moments are |g|² (real), first moments complex, as in optax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    at,
    check_nonnegative,
    check_structure,
    check_unit,
    complement,
    compute_dtype,
    descent,
    is_zero,
    leafwise,
    lerp,
    per_dtype,
    real_dtype,
    scalar,
    zeros_like,
)
from lrjax.transforms.rms import ScaleByAdagradState, scale_by_lr_decay

Tables = bool | Any | Callable[[optax.Updates], Any] | None
"""Which leaves are tables: None (ndim >= 2), a bool, a pytree of bools, or a callable."""


def _is_none(x: Any) -> bool:
    return x is None


def table_mask(tables: Tables, updates: optax.Updates) -> Any:
    """A Python bool per leaf of `updates` (None leaves stay None): whether it is a table."""
    if tables is None:
        return jax.tree.map(
            lambda g: None if g is None else jnp.ndim(g) >= 2, updates, is_leaf=_is_none
        )
    mask = tables(updates) if callable(tables) else tables

    def spread(m, sub):
        if not isinstance(m, (bool, np.bool_)):
            raise TypeError(f"tables must hold bools, got {type(m).__name__}")
        return jax.tree.map(lambda g: None if g is None else bool(m), sub, is_leaf=_is_none)

    def is_bool(x):
        return isinstance(x, (bool, np.bool_))

    try:
        return jax.tree.map(spread, mask, updates, is_leaf=is_bool)
    except ValueError as error:
        raise ValueError(
            f"tables must be a pytree of bools with the params' structure or a prefix of it: "
            f"{error}"
        ) from None


def present_rows(g: jax.Array) -> jax.Array:
    """Whether each row ``g[i]`` has a non-zero (or NaN) entry, shaped to broadcast
    against `g`: ``(n, 1, ..., 1)``; elementwise for a 1-D or 0-D leaf."""
    return jnp.any(g != 0, axis=tuple(range(1, g.ndim)), keepdims=True)


class ScaleByLazyAdamState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating): the step of every row's bias correction
    mu: optax.Updates  # first moment m, in mu_dtype (absent rows unchanged)
    nu: optax.Updates  # second moment v, in nu_dtype (absent rows unchanged)


@copies_arrays
@_checks.arguments(**_checks.MOMENTS)
def scale_by_lazy_adam(
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    eps_hat: bool = True,
    tables: Tables = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Lazy Adam's scaling, for update t = 1, 2, ... (m_0 = v_0 = 0) and each row r of a
    table (see the module docstring; leaves that are not tables take every entry as
    present, which is Adam):

        if g[r] ≠ 0:  m[r] ← b1 m[r] + (1 - b1) g[r],   v[r] ← b2 v[r] + (1 - b2) |g[r]|²
                      u[r] = m[r] · sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v[r]) + eps)
        else:         m[r], v[r] unchanged,   u[r] = 0

    t is the global count of updates, the same for every row, as torch's ``step`` and
    TF Addons' ``iterations``: a row's bias correction does not depend on how often the
    row was present. The eps is added to the uncorrected root (``eps_hat=True``, the
    form of both peers); ``eps_hat=False`` uses Adam's ``m̂ / (sqrt(v̂) + eps)`` instead,
    so that with every row present this is `scale_by_adam` (and ``optax.scale_by_adam``).

    References: Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015;
    ``torch.optim.SparseAdam`` (``torch.optim._functional.sparse_adam``); TensorFlow
    Addons ``tfa.optimizers.LazyAdam``.
    """
    check_unit("b1", b1)
    check_unit("b2", b2)
    check_nonnegative("eps", eps)

    def init(params):
        count = jnp.zeros([], jnp.int32)
        return ScaleByLazyAdamState(
            count, zeros_like(params, mu_dtype), zeros_like(params, nu_dtype, real=True)
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.mu, "optimizer state (built from the params)")
        beta1, beta2 = at(b1, state.count), at(b2, state.count)
        t = optax.safe_increment(state.count)

        def coefficients(dtype):
            step = t.astype(dtype)
            bc1, bc2 = 1 - scalar(beta1, dtype) ** step, 1 - scalar(beta2, dtype) ** step
            w1, c2, w2 = complement(beta1, dtype), scalar(beta2, dtype), complement(beta2, dtype)
            return bc1, bc2, w1, c2, w2, scalar(eps, dtype)

        coefficients = per_dtype(coefficients)

        def leaf(g, m, v, table):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            bc1, bc2, w1, c2, w2, e = coefficients(real)
            x = g.astype(dtype)
            m_old, v_old = m.astype(dtype), v.astype(real)
            m_new = lerp(m_old, x, w1)
            v_new = c2 * v_old + w2 * abs_sq(x)
            if eps_hat:
                out = m_new * (jnp.sqrt(bc2) / bc1) / (jnp.sqrt(v_new) + e)
            else:
                out = m_new * (1 / bc1) / (jnp.sqrt(v_new * (1 / bc2)) + e)
            if table:
                keep = present_rows(x)
                m_new = jnp.where(keep, m_new, m_old)
                v_new = jnp.where(keep, v_new, v_old)
                out = jnp.where(keep, out, 0)
            return out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype)

        mask = table_mask(tables, updates)
        out, mu, nu, _ = leafwise(
            lambda g, m, v, table: (*leaf(g, m, v, table), table), updates, state.mu, state.nu, mask
        )
        return out, ScaleByLazyAdamState(t, mu, nu)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE, **_checks.MOMENTS)
def lazy_adam(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    eps_hat: bool = True,
    tables: Tables = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Lazy Adam: ``θ ← θ - η_t u`` with u from `scale_by_lazy_adam`, so the rows of a
    table whose gradient is zero keep their parameters and moments. For embedding tables
    whose rows a batch rarely touches: dense Adam decays a rare row's moments at every
    update and keeps moving the row on its stale momentum, lazy Adam does neither.

    With every row present (dense gradients) it is Adam with eps on the uncorrected root;
    with ``eps_hat=False`` it is ``lrjax.adam`` (tested to 1e-13 in float64) and
    ``optax.adam`` (1e-6 in float32). There is no weight
    decay: it would move the absent rows (neither peer has one).
    ``lrjax.compat.torch.SparseAdam`` is ``torch.optim.SparseAdam`` with torch's defaults.

    References: ``torch.optim.SparseAdam``; TensorFlow Addons ``LazyAdam``; Kingma & Ba,
    ICLR 2015.
    """
    return descent(
        scale_by_lazy_adam(
            b1, b2, eps, eps_hat=eps_hat, tables=tables, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        ),
        learning_rate=learning_rate,
    )


@copies_arrays
@_checks.arguments(initial_accumulator_value=_checks.SCHEDULED, eps=_checks.SCHEDULED)
def scale_by_lazy_adagrad(
    initial_accumulator_value: Hyper = 0.0,
    eps: Hyper = 1e-10,
    *,
    tables: Tables = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Lazy AdaGrad's scaling, for each row r of a table (see the module docstring):

        if g[r] ≠ 0:  S[r] ← S[r] + |g[r]|²,   u[r] = g[r] / (sqrt(S[r]) + eps)
        else:         S[r] unchanged,          u[r] = 0

    with ``S_0 = initial_accumulator_value``. Adding |0|² leaves S as it is, so the
    moments of absent rows are those of dense AdaGrad (`scale_by_adagrad`) too: the one
    difference is that an absent row's update is exactly 0 even where dense AdaGrad's
    ``0 / (sqrt(0) + 0)`` is NaN (``eps=0`` and a row never seen). It is kept for torch's
    sparse AdaGrad, which updates only the indexed rows, and to combine with the rate
    decay and tables of `lazy_adagrad`.

    Reference: Duchi, Hazan & Singer, JMLR 2011; ``torch.optim.Adagrad`` with sparse
    gradients (``_single_tensor_adagrad``'s ``grad.is_sparse`` branch).
    """
    check_nonnegative("initial_accumulator_value", initial_accumulator_value)
    check_nonnegative("eps", eps)

    def init(params):
        zeros = zeros_like(params, nu_dtype, real=True)
        return ScaleByAdagradState(
            jax.tree.map(lambda z: jnp.full_like(z, initial_accumulator_value), zeros)
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.sum_of_squares, "accumulator (built from the params)")

        def leaf(g, s, table):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            x = g.astype(dtype)
            old = s.astype(real)
            new = old + abs_sq(x)
            out = x / (jnp.sqrt(new) + scalar(eps, real))
            if table:
                keep = present_rows(x)
                new = jnp.where(keep, new, old)
                out = jnp.where(keep, out, 0)
            return out.astype(g.dtype), new.astype(s.dtype), table

        mask = table_mask(tables, updates)
        out, s, _ = leafwise(leaf, updates, state.sum_of_squares, mask)
        return out, ScaleByAdagradState(s)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    initial_accumulator_value=_checks.SCHEDULED,
    eps=_checks.SCHEDULED,
    lr_decay=_checks.WEIGHT_DECAY,
)
def lazy_adagrad(
    learning_rate: Hyper,
    *,
    initial_accumulator_value: Hyper = 0.0,
    eps: Hyper = 1e-10,
    lr_decay: Hyper | None = None,
    tables: Tables = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """Lazy AdaGrad, as ``torch.optim.Adagrad`` with sparse gradients:

        S[r] ← S[r] + |g[r]|²                               (present rows r only)
        θ[r] ← θ[r] - η_t / (1 + t·lr_decay) · g[r] / (sqrt(S[r]) + eps)

    with t the updates already applied (0 first), counted for the whole tree, as torch's
    ``step``, which advances at every ``step()``, an empty sparse gradient included. No
    weight decay (torch refuses it with sparse gradients; it would move absent rows).
    Defaults are torch's; see `scale_by_lazy_adagrad` for how little this differs from
    `lrjax.adagrad` (``lrjax.compat.torch.Adagrad`` reproduces torch's sparse runs too).

    Reference: Duchi, Hazan & Singer, JMLR 2011; ``torch.optim.Adagrad``.
    """
    scalings = [
        scale_by_lazy_adagrad(initial_accumulator_value, eps, tables=tables, nu_dtype=nu_dtype)
    ]
    if not is_zero(lr_decay):
        scalings.append(scale_by_lr_decay(lr_decay))
    return descent(*scalings, learning_rate=learning_rate)
