"""Layer-wise trust ratios: LARS and LAMB scale each leaf's update by ‖θ‖ / ‖u‖, so that
every layer moves by about the same fraction of its norm whatever its gradient's scale.

Complex parameters: norms are sqrt(Σ |x|²), the norm of the complex leaf seen as a real
vector of twice the length; the ratio is real, so a global phase rotates the updates.

The trust ratio is a per-leaf multiplier of the update, computed afresh at each update
from the params and the update; it is not a learning rate held in the state.
`lrjax.applied_lr` of a LARS or LAMB state reports the base (scheduled) rate; a leaf's
effective rate is that times its trust ratio. (One number per leaf cannot be an
`applied_lr`, which multiplies the rates of pieces in series and keeps per-group rates
for labelled partitions: LARS's ratio sits inside an ``optax.masked``, applied to some
leaves only.)

A mask (``weight_decay_mask``, ``trust_ratio_mask``, ``mask``) is a pytree of bools with
the structure of the params (or a prefix of it), or a callable of the params (of the
updates, at update time, as ``optax.masked``) returning one: True where the decay or the
trust ratio applies. The usual choice leaves biases and normalisation scales alone, the
leaves with at most one dimension::

    matrices = lambda params: jax.tree.map(lambda p: p.ndim > 1, params)
    opt = lrjax.lars(0.1, weight_decay=1e-4, weight_decay_mask=matrices,
                     trust_ratio_mask=matrices)
    opt = lrjax.lamb(1e-3, weight_decay=0.01, mask=matrices, trust_ratio_mask=matrices)

The same by parameter names, with `lrjax.transforms.groups`' glob patterns::

    from lrjax.transforms.groups import map_named, matches
    no_bias = lambda params: map_named(lambda name, p: not matches("**/bias", name), params)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays
from lrjax.transforms.adam import scale_by_adam
from lrjax.transforms.base import (
    Hyper,
    abs_sq,
    check_structure,
    compute_dtype,
    decay_weights,
    real_dtype,
    scalar,
    scale_by_learning_rate,
)
from lrjax.transforms.sgd import scale_by_momentum


def _norm(x: jax.Array) -> jax.Array:
    """‖x‖ = sqrt(Σ |x|²) in the real compute dtype.

    As `lrjax.transforms.base.tree_norm`, finite where the squares overflow (then
    ``M sqrt(Σ |x / M|²)`` with M the largest |x|); and, as optax's ``safe_norm``, with a
    zero (not NaN) gradient at x = 0, so that meta-gradients through the update (the
    ratio of a zero-initialised bias) stay finite.
    """
    x = x.astype(compute_dtype(x))
    plain = jnp.sum(abs_sq(x))
    big = jnp.max(jnp.abs(x), initial=0).astype(plain.dtype)
    scale = jnp.where(big > 0, big, 1)
    scaled = scale * _root(jnp.sum(abs_sq(x / scale)))
    return jnp.where(jnp.isposinf(plain), scaled, _root(plain))


def _root(s: jax.Array) -> jax.Array:
    """sqrt(s) for s >= 0, whose gradient at 0 is 0 rather than inf (the double where)."""
    positive = s > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1)), 0)


def _mask(mask: Any) -> Any:
    """optax's "all leaves" (True) as lrjax's (None)."""
    return None if mask is True else mask


@copies_arrays
@_checks.arguments(
    min_norm=_checks.NONNEGATIVE, trust_coefficient=_checks.POSITIVE, eps=_checks.NONNEGATIVE
)
def scale_by_trust_ratio(
    min_norm: ArrayLike = 0.0, trust_coefficient: ArrayLike = 1.0, eps: ArrayLike = 0.0
) -> optax.GradientTransformation:
    """Scale each leaf's update u by its trust ratio (the update needs the params):

        r = trust_coefficient · max(‖θ‖, min_norm) / (max(‖u‖, min_norm) + eps)
        r = 1 where max(‖θ‖, min_norm) = 0 or max(‖u‖, min_norm) = 0
        out = r u

    ‖·‖ is the Euclidean norm of the whole leaf. The ratio is 1 where a norm is 0 (a
    leaf initialised at zero, such as a bias, takes the plain step; a zero update stays
    zero), as in optax: note that this is 1, not ``trust_coefficient``. Norms are computed
    in at least float32 and stay finite where the squares overflow (entries of 1e30 in
    float32, where optax's norm is inf and its ratio 0). The state is ``optax.EmptyState``.

    References: You, Gitman & Ginsburg, "Large batch training of convolutional
    networks", arXiv 1708.03888, 2017 (LARS); You et al., "Large batch optimization for
    deep learning: training BERT in 76 minutes", ICLR 2020 (LAMB);
    ``optax.scale_by_trust_ratio`` (the rule above).
    """

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("the trust ratio needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")

        def leaf(u, p):
            if u is None:
                return None
            dtype = compute_dtype(u)
            real = real_dtype(dtype)
            floor = scalar(min_norm, real)
            param_norm = jnp.maximum(_norm(p).astype(real), floor)
            update_norm = jnp.maximum(_norm(u).astype(real), floor)
            ratio = scalar(trust_coefficient, real) * param_norm / (update_norm + scalar(eps, real))
            ratio = jnp.where((param_norm == 0) | (update_norm == 0), jnp.ones([], real), ratio)
            return (u.astype(dtype) * ratio).astype(u.dtype)

        out = jax.tree.map(leaf, updates, params, is_leaf=lambda x: x is None)
        return out, state

    return optax.GradientTransformation(optax.init_empty_state, update)


@copies_arrays
@_checks.arguments(
    learning_rate=_checks.RATE,
    weight_decay=_checks.WEIGHT_DECAY,
    trust_coefficient=_checks.POSITIVE,
    eps=_checks.NONNEGATIVE,
    momentum=_checks.UNIT,
)
def lars(
    learning_rate: Hyper,
    weight_decay: Hyper = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: ArrayLike = 0.001,
    eps: ArrayLike = 0.0,
    trust_ratio_mask: Any = True,
    momentum: Hyper = 0.9,
    nesterov: bool = False,
    *,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    """LARS: SGD with momentum whose step is scaled per leaf by a trust ratio. For update
    t = 1, 2, ..., with η_t = learning_rate(t - 1), λ = weight_decay, μ = momentum:

        g ← g + λ θ                                 (leaves of weight_decay_mask)
        g ← c ‖θ‖ / (‖g‖ + eps) · g                  (leaves of trust_ratio_mask;
                                                     1 where a norm is 0: see
                                                     `scale_by_trust_ratio`)
        b ← μ b + η_t g,   θ ← θ - b               (θ ← θ - (η_t g + μ b) with nesterov)

    with c = trust_coefficient. The arguments, their order and defaults are
    ``optax.lars``'s (masks: True for all leaves, or see the module docstring for the
    usual "no decay and no trust ratio for biases and norm scales"); ``mu_dtype`` is the
    momentum buffer's dtype. The rate enters the momentum buffer, as in the paper's
    Algorithm 1 and optax (torch's SGD applies it after the buffer instead): under a
    schedule the buffer holds steps already scaled by past rates.

    The denominator is the norm of the decayed gradient ‖g + λθ‖, as optax computes it;
    the paper writes ‖g‖ + λ‖θ‖, which is at least as large (equal where g and θ point
    the same way). `lrjax.applied_lr` of the state is η_t; a leaf's effective rate is
    η_t times its trust ratio (module docstring).

    References: You, Gitman & Ginsburg, "Large batch training of convolutional
    networks", arXiv 1708.03888, 2017, Algorithm 1; ``optax.lars``.

    Examples:
        >>> import jax, jax.numpy as jnp, lrjax
        >>> params = {"kernel": jnp.ones((2, 2)), "bias": jnp.zeros(2)}
        >>> matrices = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
        >>> opt = lrjax.lars(0.1, 1e-4, matrices, trust_ratio_mask=matrices)
        >>> grads = {"kernel": jnp.full((2, 2), 10.0), "bias": jnp.ones(2)}
        >>> updates, state = opt.update(grads, opt.init(params), params)
        >>> updates["kernel"][0, 0]  # -0.1 · 0.001 ‖θ‖ / ‖g + λθ‖ · (g + λθ) = -0.1 · 1e-3
        Array(-0.0001, dtype=float32)
        >>> updates["bias"], lrjax.applied_lr(state)  # no decay, no ratio: -0.1 g
        (Array([-0.1, -0.1], dtype=float32), Array(0.1, dtype=float32))
    """
    return optax.chain(
        decay_weights(weight_decay, _mask(weight_decay_mask)),
        _masked(
            scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps), trust_ratio_mask
        ),
        scale_by_learning_rate(learning_rate),
        scale_by_momentum(momentum, nesterov=nesterov, mu_dtype=mu_dtype),
    )


def _masked(inner: optax.GradientTransformation, mask: Any) -> optax.GradientTransformation:
    mask = _mask(mask)
    return inner if mask is None else optax.masked(inner, mask)


@copies_arrays
@_checks.arguments(**_checks.OPTIMIZER, **_checks.MOMENTS, eps_root=_checks.SCHEDULED)
def lamb(
    learning_rate: Hyper,
    b1: Hyper = 0.9,
    b2: Hyper = 0.999,
    eps: Hyper = 1e-6,
    eps_root: Hyper = 0.0,
    weight_decay: Hyper = 0.0,
    mask: Any = None,
    *,
    trust_ratio_mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> optax.GradientTransformation:
    """LAMB: Adam's direction plus decoupled weight decay, scaled per leaf by a trust
    ratio. For update t = 1, 2, ..., with η_t = learning_rate(t - 1), λ = weight_decay:

        m ← b1 m + (1 - b1) g,   v ← b2 v + (1 - b2) |g|²
        u = [m / (1 - b1^t)] / (sqrt(v / (1 - b2^t) + eps_root) + eps) + λ θ
                                                    (λ θ on the leaves of `mask`)
        θ ← θ - η_t ‖θ‖ / ‖u‖ · u                  (1 for ‖θ‖ / ‖u‖ where a norm is 0;
                                                     on the leaves of trust_ratio_mask)

    The arguments, their order and defaults are ``optax.lamb``'s; ``mask`` selects the
    decayed leaves (None: all). ``trust_ratio_mask`` is lrjax's addition: optax applies
    the ratio to every leaf (the default here too), while TensorFlow Addons' LAMB has
    ``exclude_from_layer_adaptation``, which defaults to the leaves excluded from the
    decay; pass the same mask twice for that (module docstring). ``mu_dtype`` and
    ``nu_dtype`` are the moments' dtypes, as in `lrjax.adam`. `lrjax.applied_lr` of the
    state is η_t; a leaf's effective rate is η_t times its trust ratio.

    References: You et al., "Large batch optimization for deep learning: training BERT
    in 76 minutes", ICLR 2020, Algorithm 2 (with φ the identity); ``optax.lamb``.
    """
    return optax.chain(
        scale_by_adam(b1, b2, eps, eps_root=eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        decay_weights(weight_decay, _mask(mask)),
        _masked(scale_by_trust_ratio(), trust_ratio_mask),
        scale_by_learning_rate(learning_rate),
    )
