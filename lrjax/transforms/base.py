"""What every lrjax transformation shares: hyperparameters that may be schedules, leafwise
moment updates, the learning-rate step and the accessor that reports it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax._pytree import copies_arrays

Hyper = ArrayLike | Callable[[jax.Array], ArrayLike]
"""A hyperparameter: a number, an array (possibly traced) or a schedule of the step count."""


def at(h: Hyper, count: jax.Array) -> ArrayLike:
    """The value of hyperparameter `h` for the update with index `count` (0 first)."""
    return h(count) if callable(h) else h


def is_zero(h: Hyper | None) -> bool:
    """True only for None or a literal Python 0, so that an optional term can be left out.

    Arrays never count as zero, even concrete ones: `optax.inject_hyperparams` builds the
    transformation from concrete arrays in `init` and from tracers in `update`, and both
    must give the same state structure. That is also why optional terms default to None
    rather than 0.0: `inject_hyperparams` injects a number (a traced 0.0 is not known to
    be zero inside jit, so a weight decay would need the params) and leaves None static.
    """
    if h is None:
        return True
    return isinstance(h, (int, float)) and not isinstance(h, bool) and h == 0


def check_unit(name: str, h: Hyper) -> None:
    """A decay rate in [0, 1) (betas, momentum, rho); schedules are not checked."""
    if not callable(h):
        _checks.between(name, h, 0.0, 1.0, open_high=True)


def check_rate(name: str, h: Hyper, *, positive: bool = False) -> None:
    """A learning rate: a scalar >= 0 (> 0 with `positive`), or a schedule whose value
    at a step is a scalar. A rate of shape (2,) is refused here rather than silently
    giving per-coordinate rates."""
    if callable(h):
        _checks.scalar_valued(name, h)
        return
    _checks.scalar(name, h)
    (_checks.positive if positive else _checks.nonnegative)(name, h)


def check_nonnegative(name: str, h: Hyper) -> None:
    if not callable(h):
        _checks.nonnegative(name, h)


def compute_dtype(x: jax.Array) -> jnp.dtype:
    """Arithmetic runs in at least float32, so bfloat16 leaves do not lose their moments."""
    return jnp.promote_types(x.dtype, jnp.float32)


def real_dtype(dtype: Any) -> jnp.dtype:
    """The real dtype of `dtype`'s values: float32 for complex64, a real dtype unchanged.

    Scalar coefficients (bias corrections, 1 - β, eps) and second moments are real even
    for complex parameters, as in optax.
    """
    return jnp.finfo(dtype).dtype


def abs_sq(x: jax.Array) -> jax.Array:
    """|x|² = x·conj(x), a real array: the second moment of a gradient entry.

    For real x this is ``x * x``; for complex x it is ``re(x)² + im(x)²``, as
    ``optax.abs_sq``. Squaring a complex gradient as ``x * x`` instead gives a complex
    "moment" whose root is not a magnitude (and whose running maximum is meaningless).
    """
    if jnp.iscomplexobj(x):
        return x.real * x.real + x.imag * x.imag
    return x * x


def inner(a: jax.Array, b: jax.Array) -> jax.Array:
    """The elementwise real inner product re(conj(a)·b): ``a * b`` for real arrays.

    Summed over a tree (`tree_sum`) it is the inner product of complex parameters seen as
    real vectors of twice the length, which the learning-rate-free methods' distances and
    correlations need; optax takes the real part of ``optax.tree.vdot`` the same way.
    """
    if jnp.iscomplexobj(a) or jnp.iscomplexobj(b):
        return a.real * b.real + a.imag * b.imag
    return a * b


def scalar(h: ArrayLike, dtype: Any) -> jax.Array:
    """A hyperparameter value as a scalar of the compute dtype (exact for Python floats)."""
    return jnp.asarray(h, dtype)


def complement(h: ArrayLike, dtype: Any) -> jax.Array:
    """``1 - h`` in the compute dtype, with `h` rounded to that dtype first.

    Rounding first makes a Python float and the same value passed as a traced float32
    array (a vmapped sweep, ``inject_hyperparams``) give bitwise-identical updates. optax
    and PyTorch subtract Python floats in double precision instead, so in float32 their
    ``1 - 0.999`` differs from lrjax's by 1.3e-5 relative (and optax's own sweeps differ
    from its single runs by as much).
    """
    return 1 - scalar(h, dtype)


def per_dtype(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn(dtype)``, computed once per dtype: the scalar coefficients of one update (bias
    corrections, 1 - β) that all leaves of a dtype share. Tracing them once rather than
    once per leaf keeps the program of a model with hundreds of leaves small (Adam on 512
    leaves lowers 30% fewer StableHLO lines); the values are the same."""
    cache: dict = {}

    def get(dtype: Any) -> Any:
        key = jnp.dtype(dtype)
        if key not in cache:
            cache[key] = fn(key)
        return cache[key]

    return get


def lerp(old: jax.Array, new: jax.Array, weight: jax.Array) -> jax.Array:
    """The moving average ``(1 - weight) * old + weight * new``, written as PyTorch's
    ``lerp`` (``old + weight * (new - old)``) so that the roundings match torch's."""
    return old + weight * (new - old)


def strong(x: ArrayLike) -> jax.Array:
    """`x` as an array with a fixed (not weak) dtype, so loop carries keep their type."""
    x = jnp.asarray(x)
    return x.astype(x.dtype)


def _is_none(x: Any) -> bool:
    return x is None


def check_structure(updates: optax.Updates, reference: Any, what: str) -> None:
    """Raise a ValueError when the gradient tree does not match `reference`.

    A ``None`` gradient leaf (no gradient for that parameter) matches any leaf.
    """
    got = jax.tree.structure(updates, is_leaf=_is_none)
    want = jax.tree.structure(reference, is_leaf=_is_none)
    if got != want:
        raise ValueError(
            f"the gradient tree does not match the {what}: got {got}, expected {want}. "
            "Pass gradients with the same structure as the params given to init."
        )


def leafwise(fn: Callable[..., tuple], updates: optax.Updates, *trees: Any) -> tuple:
    """Apply ``fn(g, *leaves) -> (out, *new_leaves)`` leaf by leaf; return the output trees.

    Leaves whose gradient is ``None`` stay ``None`` and keep their state, as in optax.
    """
    n = 1 + len(trees)

    def apply(g, *leaves):
        return (None, *leaves) if g is None else fn(g, *leaves)

    out = jax.tree.map(apply, updates, *trees, is_leaf=_is_none)
    return tuple(
        jax.tree.map(lambda _, o, i=i: o[i], updates, out, is_leaf=_is_none) for i in range(n)
    )


def tree_sum(fn: Callable[..., jax.Array], *trees: Any) -> jax.Array:
    """Σ over all leaves of ``fn(*leaves)``: the global sums of the learning-rate-free
    methods (inner products, norms), over the whole tree as their references do."""
    leaves = zip(*map(jax.tree.leaves, trees), strict=True)
    return sum((jnp.sum(fn(*group)) for group in leaves), jnp.zeros([]))


def tree_norm(tree: Any) -> jax.Array:
    """The Euclidean norm ``sqrt(Σ |x|²)`` over all leaves, also where the squares overflow.

    The norm of entries of 1e30 is about 1e30, well inside float32, but their squares
    (1e60) are not: ``sqrt(Σ x²)`` is inf there. Where the sum of squares overflows, the
    norm is computed as ``M sqrt(Σ |x / M|²)`` with M the largest |x| instead; elsewhere
    it is ``sqrt(Σ |x|²)`` as written, with the roundings of the references. A NaN entry
    gives NaN either way.
    """
    plain = tree_sum(abs_sq, tree)
    biggest = [jnp.max(jnp.abs(x), initial=0).astype(plain.dtype) for x in jax.tree.leaves(tree)]
    big = functools.reduce(jnp.maximum, biggest, jnp.zeros([], plain.dtype))
    scale = jnp.where(big > 0, big, 1)
    scaled = scale * jnp.sqrt(tree_sum(lambda x: abs_sq(x / scale), tree))
    return jnp.where(jnp.isposinf(plain), scaled, jnp.sqrt(plain))


def zeros_like(params: optax.Params, dtype: Any = None, *, real: bool = False) -> Any:
    """Zeros shaped like `params` (in `dtype` when given); None leaves stay None.

    ``real=True`` gives the real dtype of complex leaves (a second moment |g|² is real).
    """

    def zeros(p):
        if p is None:
            return None
        d = jnp.result_type(p) if dtype is None else dtype
        return jnp.zeros_like(p, dtype=real_dtype(d) if real else d)

    return jax.tree.map(zeros, params)


class ScaleByLearningRateState(NamedTuple):
    """State of `scale_by_learning_rate`.

    count: int32 number of updates applied, saturating at 2**31 - 1.
    learning_rate: the rate used by the last update (before the first update: the rate the
      first update will use).
    """

    count: jax.Array
    learning_rate: jax.Array

    def applied_lr(self) -> jax.Array:
        return self.learning_rate


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE)
def scale_by_learning_rate(learning_rate: Hyper) -> optax.GradientTransformation:
    """Multiply the updates by ``-learning_rate(count)`` and remember the rate used.

    ``count`` is the number of updates already applied, so a schedule sees 0 on the first
    update, like optax's counters and PyTorch's schedulers (stepped after each update).
    The result keeps each update's dtype.
    """
    check_rate("learning_rate", learning_rate)

    def init(params):
        del params
        count = jnp.zeros([], jnp.int32)
        return ScaleByLearningRateState(count, strong(at(learning_rate, count)))

    def update(updates, state, params=None):
        if params is not None:
            check_structure(updates, params, "params")
        lr = at(learning_rate, state.count)
        updates = jax.tree.map(lambda u: (-lr * u).astype(u.dtype), updates)
        new_state = ScaleByLearningRateState(optax.safe_increment(state.count), strong(lr))
        return updates, new_state

    return optax.GradientTransformation(init, update)


def accepting_extra_args(
    init: optax.TransformInitFn, update: Callable[..., tuple]
) -> optax.GradientTransformationExtraArgs:
    """``init`` and ``update(updates, state, params=None)`` as a transformation whose
    update also accepts, and ignores, extra keyword arguments (``value=loss`` and others).

    A loop that feeds the loss to some transformations (``optax.chain`` forwards extra
    arguments to every piece) can then call an lrjax method like any optax.contrib
    optimizer, which are ``GradientTransformationExtraArgs`` that drop what they do not
    use. The learning-rate-free methods build their transformation here; those that wrap
    another transformation (`schedule_free`, `polynomial_average`, `hypergradient`)
    forward the extra arguments to it instead.
    """
    return optax.with_extra_args_support(optax.GradientTransformation(init, update))


def find_states(state: optax.OptState, cls: type) -> list:
    """The sub-states of type `cls` anywhere inside `state` (chains, wrappers, vmapped)."""
    nodes = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, cls))
    return [x for x in nodes if isinstance(x, cls)]


@copies_arrays
@_checks.arguments(weight_decay=_checks.WEIGHT_DECAY)
def decay_weights(weight_decay: Hyper, mask: Any = None) -> optax.GradientTransformation:
    """``g + weight_decay * params`` on the leaves `mask` selects; nothing when it is None or 0.

    Like ``optax.add_decayed_weights``, but each update keeps its dtype (a float32 decay
    on bfloat16 params gives bfloat16 updates) and a schedule sees the update count.
    """
    if is_zero(weight_decay):
        return optax.identity()
    check_nonnegative("weight_decay", weight_decay)

    def init(params):
        del params
        return ScaleByScheduleCount(jnp.zeros([], jnp.int32))

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("weight decay needs the params: call update(grads, state, params)")
        check_structure(updates, params, "params")
        wd = at(weight_decay, state.count)

        def leaf(g, p):
            dtype = compute_dtype(g)
            return (g.astype(dtype) + scalar(wd, dtype) * p.astype(dtype)).astype(g.dtype)

        updates = jax.tree.map(
            lambda g, p: None if g is None else leaf(g, p), updates, params, is_leaf=_is_none
        )
        return updates, ScaleByScheduleCount(optax.safe_increment(state.count))

    decay = optax.GradientTransformation(init, update)
    return decay if mask is None else optax.masked(decay, mask)


class ScaleByScheduleCount(NamedTuple):
    count: jax.Array  # int32 updates applied (saturating), for a scheduled weight decay


@copies_arrays
@_checks.arguments(learning_rate=_checks.RATE, weight_decay=_checks.WEIGHT_DECAY)
def descent(
    *scalings: optax.GradientTransformation,
    learning_rate: Hyper,
    weight_decay: Hyper | None = None,
    mask: Any = None,
    decoupled: bool = False,
) -> optax.GradientTransformation:
    """An optimizer: weight decay, the scaling pieces, then ``-learning_rate``.

    Coupled (L2) decay adds ``λ θ`` to the gradient before the scalings; decoupled decay
    adds it to their output, so the step is ``-η_t (u + λ θ)``, which is PyTorch's
    ``θ ← θ (1 - η_t λ)`` followed by ``θ ← θ - η_t u`` (Loshchilov & Hutter, "Decoupled
    weight decay regularization", ICLR 2019, as PyTorch and optax implement it: the decay
    is multiplied by the scheduled rate).
    """
    decay = decay_weights(weight_decay, mask)
    parts = [*scalings, decay] if decoupled else [decay, *scalings]
    return optax.chain(*parts, scale_by_learning_rate(learning_rate))
