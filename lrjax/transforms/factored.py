"""Adafactor: a second moment kept as row and column averages of |g|² (memory linear in
the sides of a matrix, not in its size), update clipping by RMS and steps relative to
each parameter's own scale.

Two parameterisations are in use and both are here: optax's (`adafactor`, built from
`scale_by_factored_rms`, following the paper and T5/Mesh TensorFlow) and PyTorch's
(``torch.optim.Adafactor``, whose constructor is `lrjax.compat.torch.Adafactor`, built on
`torch_adafactor`). They differ in where eps enters, which dimensions are factored, the
decay schedule's parameter, the relative step and the weight decay (see each docstring).

Complex parameters: the second moments are |g|² (real), as ``optax.abs_sq``; the
parameter scale is the RMS of |θ|. optax's Adafactor runs on complex leaves with the
same |g|² moments, but keeps them in the complex dtype and, with ``momentum``, casts the
complex average to its real ``dtype_momentum`` (dropping the imaginary part); lrjax keeps
the moments real and the momentum complex. torch refuses complex parameters.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.base import (
    Hyper,
    ScaleByScheduleCount,
    abs_sq,
    at,
    check_structure,
    complement,
    compute_dtype,
    decay_weights,
    is_zero,
    leafwise,
    per_dtype,
    real_dtype,
    scalar,
    strong,
)


def _is_none(x: Any) -> bool:
    return x is None


def factored_dims(
    shape: tuple, factored: bool, min_dim_size_to_factor: int
) -> tuple[int, int] | None:
    """The two axes optax's Adafactor factors a leaf over: (second largest, largest), or
    None when the leaf has fewer than two dimensions or its second largest dimension is
    smaller than `min_dim_size_to_factor` (``optax._src.factorized._factored_dims``)."""
    if not factored or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim_size_to_factor:
        return None
    return int(order[-2]), int(order[-1])


def _ratio(x: jax.Array, mean: jax.Array) -> jax.Array:
    """``x / mean``, and 1 where both overflowed to +inf (gradients of 1e30 in float32):
    inf / inf would be NaN, and the true ratio is finite (at most the number of rows)."""
    both = jnp.isposinf(x) & jnp.isposinf(mean)
    return jnp.where(both, 1, x / jnp.where(both, 1, mean))


def _lerp(old: jax.Array, new: jax.Array, weight: jax.Array) -> jax.Array:
    """torch's ``old.lerp_(new, weight)``, ``old + weight (new - old)``, that keeps +inf
    where both are +inf (inf - inf would be NaN); where they are equal it is exact anyway."""
    return jnp.where(old == new, old, old + weight * (new - old))


class FactoredState(NamedTuple):
    """State of `scale_by_factored_rms` (optax's ``FactoredState``, with None where optax
    keeps a placeholder of shape (1,))."""

    count: jax.Array  # int32, updates applied (saturating)
    v_row: optax.Updates  # factored leaves: mean of |g|² + eps over the largest axis
    v_col: optax.Updates  # factored leaves: mean over the second largest axis
    v: optax.Updates  # unfactored leaves: the full running mean of |g|² + eps


@copies_arrays
@_checks.arguments(
    decay_rate=_checks.NONNEGATIVE,
    step_offset=_checks.integer(0),
    min_dim_size_to_factor=_checks.integer(0),
    epsilon=_checks.NONNEGATIVE,
)
def scale_by_factored_rms(
    factored: bool = True,
    decay_rate: Hyper = 0.8,
    step_offset: Hyper = 0,
    min_dim_size_to_factor: int = 128,
    epsilon: Hyper = 1e-30,
) -> optax.GradientTransformation:
    """Adafactor's scaling by a factored estimate of the gradient's RMS, for update
    t = 1, 2, ... with β_t = 1 - t^(-decay_rate) (t counted from `step_offset`):

        G = |g|² + epsilon
        factored leaf (axes a = largest, b = second largest; see `factored_dims`):
            R ← β_t R + (1 - β_t) mean_a(G),   C ← β_t C + (1 - β_t) mean_b(G)
            out = g / sqrt(R C / mean(R))       (R over b, C over a, broadcast)
        other leaf:
            V ← β_t V + (1 - β_t) G,           out = g / sqrt(V)

    A leaf is factored when it has two or more dimensions and its second largest is at
    least `min_dim_size_to_factor`; `factored=False` factors none. Both are static (they
    decide the state's shapes); `decay_rate`, `step_offset` and `epsilon` may be traced.
    The moments are kept in the leaf's real dtype (bfloat16 leaves: bfloat16 moments, as
    optax), computed in at least float32.

    Differences from ``optax.scale_by_factored_rms``: β_t is computed in the compute
    dtype (optax computes it in float32 also for float64 params, so float64 runs differ
    by ~1e-8 relative); before `step_offset` updates (t ≤ 0 in optax's formula, where
    optax's β_t is -inf or NaN) t is held at 1; where R's entries and their mean both
    overflow to +inf (gradients of 1e30 in float32) their ratio is 1 rather than NaN.

    References: Shazeer & Stern, "Adafactor: Adaptive learning rates with sublinear
    memory cost", ICML 2018, Algorithm 4 and Section 7 (β_t = 1 - t^-0.8);
    ``optax.scale_by_factored_rms``.
    """

    def dims(p):
        return factored_dims(p.shape, factored, min_dim_size_to_factor)

    def init(params):
        def rows(p, axis):
            if p is None or dims(p) is None:
                return None
            return jnp.zeros(np.delete(p.shape, dims(p)[axis]), real_dtype(p.dtype))

        def full(p):
            if p is None or dims(p) is not None:
                return None
            return jnp.zeros(p.shape, real_dtype(p.dtype))

        def tree(fn):
            return jax.tree.map(fn, params, is_leaf=_is_none)

        return FactoredState(
            jnp.zeros([], jnp.int32),
            tree(lambda p: rows(p, 1)),
            tree(lambda p: rows(p, 0)),
            tree(full),
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, _shapes(state), "optimizer state (built from the params)")
        t = jnp.maximum(state.count - step_offset, 0) + 1

        def betas(d):
            beta = 1 - t.astype(d) ** -scalar(decay_rate, d)
            return beta, 1 - beta

        coefficients = per_dtype(betas)

        def leaf(g, v_row, v_col, v):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            beta, weight = coefficients(real)
            x = g.astype(dtype)
            sq = abs_sq(x) + scalar(epsilon, real)
            axes = dims(g)
            if axes is None:
                new_v = beta * v.astype(real) + weight * sq
                out = x * new_v**-0.5
                return out.astype(g.dtype), None, None, new_v.astype(v.dtype)
            second, first = axes  # second largest, largest
            new_row = beta * v_row.astype(real) + weight * jnp.mean(sq, axis=first)
            new_col = beta * v_col.astype(real) + weight * jnp.mean(sq, axis=second)
            # the row means, stored at their dtype, enter the factors as optax's do
            new_row, new_col = new_row.astype(v_row.dtype), new_col.astype(v_col.dtype)
            row, col = new_row.astype(real), new_col.astype(real)
            reduced = second - 1 if second > first else second
            row_factor = _ratio(row, jnp.mean(row, axis=reduced, keepdims=True)) ** -0.5
            out = (
                x
                * jnp.expand_dims(row_factor, axis=first)
                * jnp.expand_dims(col**-0.5, axis=second)
            )
            return out.astype(g.dtype), new_row, new_col, None

        out, v_row, v_col, v = leafwise(leaf, updates, state.v_row, state.v_col, state.v)
        return out, FactoredState(optax.safe_increment(state.count), v_row, v_col, v)

    return optax.GradientTransformation(init, update)


def _shapes(state: FactoredState) -> Any:
    """The params' tree structure from the state: each leaf's v, or its v_row where v is
    None (a None param has None in all three)."""
    return jax.tree.map(lambda r, v: r if v is None else v, state.v_row, state.v, is_leaf=_is_none)


@copies_arrays
@_checks.arguments(threshold=_checks.POSITIVE)
def clip_by_block_rms(threshold: Hyper = 1.0) -> optax.GradientTransformation:
    """``out = u / max(1, RMS(u) / threshold)`` per leaf, RMS(u) = sqrt(mean |u|²): the
    update clipping of Adafactor (Shazeer & Stern 2018, Section 5, threshold d = 1), as
    ``optax.clip_by_block_rms``, computed in at least float32 and keeping each dtype.
    The RMS of a NaN update is NaN, and so is the clipped update (never a silent 0)."""

    def update(updates, state, params=None):
        del params

        def leaf(u):
            dtype = compute_dtype(u)
            x = u.astype(dtype)
            rms = jnp.sqrt(jnp.mean(abs_sq(x)))
            denom = jnp.maximum(1.0, rms / scalar(threshold, real_dtype(dtype)))
            return (x / denom).astype(u.dtype)

        return jax.tree.map(leaf, updates), state

    return optax.GradientTransformation(optax.init_empty_state, update)


def parameter_scale(p: jax.Array, min_scale: ArrayLike = 1e-3) -> jax.Array:
    """``max(RMS(θ), min_scale)``, RMS(θ) = sqrt(mean |θ|²), in the compute dtype: the
    scale that makes Adafactor's steps relative (``optax.scale_by_param_block_rms``)."""
    dtype = real_dtype(compute_dtype(p))
    rms = jnp.sqrt(jnp.mean(abs_sq(p.astype(compute_dtype(p)))))
    return jnp.maximum(rms, jnp.asarray(min_scale, dtype))


class ScaleByAdafactorRateState(NamedTuple):
    """State of Adafactor's rate: optax's ``scale_by_learning_rate`` and
    ``scale_by_param_block_rms`` in one piece, which reports the rate.

    count: int32 updates applied (saturating).
    learning_rate: the rate the last update used (1 for ``learning_rate=None``): the step
      relative to each leaf's parameter scale ``max(RMS(θ), 1e-3)`` when
      ``multiply_by_parameter_scale``, else the absolute rate.
    """

    count: jax.Array
    learning_rate: jax.Array

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


def _scale_by_relative_rate(
    learning_rate: Hyper | None, multiply_by_parameter_scale: bool
) -> optax.GradientTransformation:
    """``out = lr_t · u``, times ``max(RMS(θ), 1e-3)`` per leaf when
    `multiply_by_parameter_scale` (optax's ``scale_by_learning_rate(flip_sign=False)``
    then ``scale_by_param_block_rms()``); ``lr = None`` is a rate of 1."""

    def rate(count):
        return 1.0 if learning_rate is None else at(learning_rate, count)

    def init(params):
        del params
        count = jnp.zeros([], jnp.int32)
        return ScaleByAdafactorRateState(count, strong(jnp.asarray(rate(count), float)))

    def update(updates, state, params=None):
        if multiply_by_parameter_scale:
            if params is None:
                raise ValueError(
                    "adafactor's parameter scale needs the params: call "
                    "update(grads, state, params), or pass multiply_by_parameter_scale=False"
                )
            check_structure(updates, params, "params")
        lr = rate(state.count)

        def leaf(u, p=None):
            if u is None:
                return None
            dtype = compute_dtype(u)
            x = u.astype(dtype)
            if learning_rate is not None:
                x = x * scalar(lr, real_dtype(dtype))
            if multiply_by_parameter_scale:
                x = x * parameter_scale(p).astype(real_dtype(dtype))
            return x.astype(u.dtype)

        if multiply_by_parameter_scale:
            out = jax.tree.map(leaf, updates, params, is_leaf=_is_none)
        else:
            out = jax.tree.map(leaf, updates, is_leaf=_is_none)
        new = ScaleByAdafactorRateState(
            optax.safe_increment(state.count), jnp.asarray(lr, state.learning_rate.dtype)
        )
        return out, new

    return optax.GradientTransformation(init, update)


class AdafactorMomentumState(NamedTuple):
    count: jax.Array  # int32, updates applied (saturating)
    momentum: optax.Updates  # the average m, in dtype_momentum (its complex kind for complex)


def _momentum(momentum: Hyper, dtype: Any) -> optax.GradientTransformation:
    """``m ← (1 - β) u + β m``, ``out = m`` (``optax.ema(β, debias=False,
    accumulator_dtype=dtype)``); complex leaves keep a complex average."""

    def init(params):
        def zeros(p):
            if p is None:
                return None
            kind = dtype if not jnp.iscomplexobj(p) else jnp.result_type(dtype, jnp.complex64)
            return jnp.zeros(p.shape, kind)

        return AdafactorMomentumState(
            jnp.zeros([], jnp.int32), jax.tree.map(zeros, params, is_leaf=_is_none)
        )

    def update(updates, state, params=None):
        del params
        check_structure(updates, state.momentum, "optimizer state (built from the params)")
        beta = at(momentum, state.count)
        weights = per_dtype(lambda d: (complement(beta, d), scalar(beta, d)))

        def leaf(u, m):
            dtype = jnp.promote_types(compute_dtype(u), m.dtype)
            w, b = weights(real_dtype(dtype))
            new = w * u.astype(dtype) + b * m.astype(dtype)
            return new.astype(u.dtype), new.astype(m.dtype)

        out, m = leafwise(leaf, updates, state.momentum)
        return out, AdafactorMomentumState(optax.safe_increment(state.count), m)

    return optax.GradientTransformation(init, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.real(0, schedule=True, optional=True),
    min_dim_size_to_factor=_checks.integer(0),
    decay_rate=_checks.NONNEGATIVE,
    decay_offset=_checks.integer(0),
    clipping_threshold=_checks.real(0, open_low=True, optional=True),
    momentum=_checks.real(0, 1, open_high=True, schedule=True, optional=True),
    weight_decay_rate=_checks.WEIGHT_DECAY,
    eps=_checks.NONNEGATIVE,
)
def adafactor(
    learning_rate: Hyper | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: Hyper = 0.8,
    decay_offset: Hyper = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: Hyper | None = 1.0,
    momentum: Hyper | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: Hyper | None = None,
    eps: Hyper = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any = None,
) -> optax.GradientTransformation:
    """Adafactor with optax's parameterisation and defaults, for update t = 1, 2, ...:

        u = `scale_by_factored_rms`(g)               (β_t = 1 - t^-decay_rate, eps inside)
        u ← u / max(1, RMS(u) / clipping_threshold)  (`clip_by_block_rms`; None: no clip)
        u ← lr_t · max(RMS(θ), 1e-3) · u             (the scale if multiply_by_parameter_scale)
        u ← m = (1 - momentum) u + momentum m        (if momentum; m in dtype_momentum)
        θ ← θ - (u + weight_decay_rate · θ)          (decay on weight_decay_mask's leaves)

    ``learning_rate=None`` (optax's default) applies no rate: the step is then relative
    to each parameter's scale, max(RMS(θ), 1e-3) · û, the paper's relative step with the
    rate ρ_t = 1 (the paper's min(1e-2, 1/sqrt(t)) is a schedule:
    ``learning_rate=lambda k: jnp.minimum(1e-2, (k + 1.0) ** -0.5)``). `lrjax.applied_lr`
    reports lr_t, or 1 for None: the step relative to the parameter scale, which differs
    per leaf and is not included. The weight decay is not multiplied by the rate, as in
    optax. `min_dim_size_to_factor`, `factored` and `multiply_by_parameter_scale` are
    static; every other number may be traced, and `learning_rate`, `momentum` and
    `weight_decay_rate` may be schedules.

    Deliberate differences from ``optax.adafactor`` (float32 results agree to 1e-6):
    those of `scale_by_factored_rms` (β_t in the compute dtype, a held t before
    `decay_offset`, no NaN where the moments overflow), a complex momentum for complex
    leaves, and updates that keep the params' dtype (bfloat16 in, bfloat16 out).

    References: Shazeer & Stern, "Adafactor: Adaptive learning rates with sublinear
    memory cost", ICML 2018; ``optax.adafactor``. PyTorch's form is
    `lrjax.compat.torch.Adafactor`.
    """
    parts = [scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        parts.append(clip_by_block_rms(clipping_threshold))
    parts.append(_scale_by_relative_rate(learning_rate, multiply_by_parameter_scale))
    if momentum is not None:
        parts.append(_momentum(momentum, dtype_momentum))
    if not is_zero(weight_decay_rate):
        parts.append(decay_weights(weight_decay_rate, weight_decay_mask))
    parts.append(_negate())
    return optax.chain(*parts)


def _negate() -> optax.GradientTransformation:
    """``out = -u`` (exact in every dtype)."""

    def update(updates, state, params=None):
        del params
        return jax.tree.map(jnp.negative, updates), state

    return optax.GradientTransformation(optax.init_empty_state, update)


# --------------------------------------------------------------------------------------
# PyTorch's parameterisation (lrjax.compat.torch.Adafactor)


class TorchAdafactorState(NamedTuple):
    """State of `torch_adafactor`, with torch's shapes: a leaf with two or more dimensions
    has ``v_row`` (torch's ``row_var``, shape (..., m, 1)) and ``v_col`` (``col_var``,
    (..., 1, n)); other leaves have ``v`` (``variance``)."""

    count: jax.Array  # int32, updates applied (saturating): torch's ``step``
    v_row: optax.Updates
    v_col: optax.Updates
    v: optax.Updates
    learning_rate: jax.Array  # ρ_t = min(lr_t, 1/sqrt(t)) of the last update
    schedule: ScaleByScheduleCount  # the count lr and weight_decay are read at: the
    # group's in lrjax.compat.torch (which advances it also for a skipped parameter)

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


def torch_adafactor(
    lr: Hyper = 1e-2,
    beta2_decay: Hyper = -0.8,
    eps1: Hyper | None = None,
    eps2: Hyper = 1e-3,
    d: Hyper = 1.0,
    weight_decay: Hyper = 0.0,
) -> optax.GradientTransformation:
    """``torch.optim.Adafactor``'s single-tensor step, for update t = 1, 2, ... (the
    checks are `lrjax.compat.torch.Adafactor`'s):

        ρ_t = min(lr_t, 1/sqrt(t)),   α_t = max(eps2, RMS(θ)) ρ_t
        θ ← θ (1 - lr_t weight_decay)
        leaf of 2+ dims (the last two, m × n):
            R ← lerp(R, mean_n(g²), t^beta2_decay),  C ← lerp(C, mean_m(g²), t^beta2_decay)
            V = R C / max(mean_m(R), eps1)
        other leaf:  V ← lerp(V, g², t^beta2_decay)
        U = g / sqrt(max(V, eps1²)),   θ ← θ - α_t U / max(1, RMS(U) / d)

    ``eps1=None`` is the machine epsilon of the param's dtype. The weight decay and
    ρ_t's cap read the (scheduled) lr; `applied_lr` reports ρ_t, the rate relative to the
    parameter scale. Where R's entries and their mean both overflow to +inf, their
    ratio is 1 rather than NaN. Needs the params (the update reads RMS(θ)). The
    schedules of lr and weight_decay are read at ``state.schedule.count``, which
    `lrjax.compat.torch` advances for the whole group (torch's scheduler), while t is
    the parameter's own step.
    """

    def init(params):
        def part(p, which):
            if p is None:
                return None
            real = real_dtype(p.dtype)
            if p.ndim < 2:
                return jnp.zeros(p.shape, real) if which == "v" else None
            if which == "v":
                return None
            shape = list(p.shape)
            shape[-1 if which == "row" else -2] = 1
            return jnp.zeros(shape, real)

        def tree(which):
            return jax.tree.map(lambda p: part(p, which), params, is_leaf=_is_none)

        count = jnp.zeros([], jnp.int32)
        rho = jnp.minimum(jnp.asarray(at(lr, count), float), 1.0)
        schedule = ScaleByScheduleCount(jnp.zeros([], jnp.int32))  # its own buffer
        return TorchAdafactorState(
            count, tree("row"), tree("col"), tree("v"), strong(rho), schedule
        )

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("Adafactor needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        t = optax.safe_increment(state.count)
        k = state.schedule.count
        rate, decay = at(lr, k), at(weight_decay, k)

        def coefficients(real):
            steps = t.astype(real)
            rate_t = scalar(rate, real)
            rho = jnp.minimum(rate_t, 1 / steps**0.5)
            keep = 1 - rate_t * scalar(decay, real)
            return steps ** scalar(beta2_decay, real), rho, keep

        coefficients = per_dtype(coefficients)

        def leaf(g, p, v_row, v_col, v):
            dtype = compute_dtype(g)
            real = real_dtype(dtype)
            weight, rho, keep = coefficients(real)
            x, q = g.astype(dtype), p.astype(dtype)
            e1 = jnp.finfo(p.dtype).eps if eps1 is None else scalar(eps1, real)
            e1 = jnp.asarray(e1, real)
            alpha = jnp.maximum(scalar(eps2, real), jnp.sqrt(jnp.mean(abs_sq(q)))) * rho
            decayed = q * keep
            sq = abs_sq(x)
            if g.ndim >= 2:
                row = _lerp(v_row.astype(real), jnp.mean(sq, axis=-1, keepdims=True), weight)
                col = _lerp(v_col.astype(real), jnp.mean(sq, axis=-2, keepdims=True), weight)
                mean = jnp.maximum(jnp.mean(row, axis=-2, keepdims=True), e1)
                var = _ratio(row, mean) * col
                new_row, new_col, new_v = row.astype(v_row.dtype), col.astype(v_col.dtype), None
            else:
                var = _lerp(v.astype(real), sq, weight)
                new_row, new_col, new_v = None, None, var.astype(v.dtype)
            u = x * jax.lax.rsqrt(jnp.maximum(var, e1 * e1))
            denom = jnp.maximum(1, jnp.sqrt(jnp.mean(abs_sq(u))) / scalar(d, real))
            new = decayed - (alpha / denom) * u
            return (new - q).astype(g.dtype), new_row, new_col, new_v

        def apply(g, p, r, c, v):
            return (None, r, c, v) if g is None else leaf(g, p, r, c, v)

        out = jax.tree.map(
            apply, updates, params, state.v_row, state.v_col, state.v, is_leaf=_is_none
        )

        def pick(i):
            return jax.tree.map(lambda _, o: o[i], updates, out, is_leaf=_is_none)

        rho = jnp.minimum(jnp.asarray(rate, state.learning_rate.dtype), t.astype(float) ** -0.5)
        schedule = ScaleByScheduleCount(optax.safe_increment(k))
        new_state = TorchAdafactorState(t, pick(1), pick(2), pick(3), rho, schedule)
        return pick(0), new_state

    return optax.GradientTransformation(init, update)
