"""PyTorch-exact schedules: ``torch.optim.lr_scheduler`` as lrjax schedules.

``Name(base_lr, **kwargs)`` takes the torch scheduler's keyword arguments (without
``optimizer``, ``last_epoch`` and ``verbose``) and returns an lrjax schedule ``s`` with
``s(k)`` equal to the learning rate torch uses for the k-th optimizer update (0-based), in
the usual loop ``opt.step(); sched.step()``. ``base_lr`` is the optimizer's ``lr``.
Everything stays traceable: a ``step_size`` or ``T_0`` passed as a traced array works
under `jax.vmap`.

Torch's behaviour is kept where it surprises, and documented on each constructor:
``CosineAnnealingLR`` rises again after ``T_max``; ``SequentialLR`` restarts each child
from the original base rate except ``MultiplicativeLR`` children, which continue from the
current rate; ``ChainedScheduler`` applies each child's recursive update in turn, which is a
product only for multiplicative children; ``CyclicLR`` and ``OneCycleLR`` ignore the
optimizer's rate and expose the momentum (or Adam beta1) they impose as ``.momentum``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.plateau import ReduceOnPlateau
from lrjax.schedules import (
    Schedule,
    cosine_decay,
    cyclic,
    exponential_decay,
    from_fn,
    join,
    linear,
    multi_step,
    multiplicative,
    one_cycle,
    piecewise_constant,
    polynomial_decay,
    scale,
    static,
    step_decay,
    warm_restarts,
)
from lrjax.schedules.combinators import replay

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


def _torch_message(name: str, value, error: Exception) -> str | None:
    """torch's message first where code matches on it: ``lr_lambda should be a function``
    (its TypeError at construction), ``Expected positive integer total_steps``."""
    if name == "lr_lambda" and isinstance(error, TypeError):
        return f"lr_lambda should be a function, but got {type(value).__name__} ({error})"
    if name in ("total_steps", "epochs", "steps_per_epoch") and isinstance(error, ValueError):
        return f"Expected positive integer {name}, but got {value} ({error})"
    if name == "pct_start" and isinstance(error, ValueError):
        return f"Expected float between 0 and 1 pct_start, but got {value} ({error})"
    return None


# What the schedulers declare, by role (torch checks few of them itself; the ranges are
# those its formulas need, as the native schedules'): rates and factors of the rate >= 0,
# numbers of steps integers > 0 (or >= 0 where torch's formula allows 0).
_RATE = _checks.NONNEGATIVE
_STEPS = _checks.STEPS
_MILESTONES = _checks.integer(0, shape="vector")


@_checks.arguments(_torch_message, base_lr=_RATE, lr_lambda=_checks.function())
def LambdaLR(base_lr: ArrayLike, lr_lambda: Callable[[jax.Array], jax.Array]) -> Schedule:
    """lr_k = base_lr * lr_lambda(k). ``lr_lambda`` must be jax-traceable (use ``jnp.where``
    for branches); a non-callable raises TypeError, as torch's MultiplicativeLR does (torch's
    LambdaLR fails with a TypeError too, when it first calls it)."""
    with _checks.renamed(factor="base_lr"):
        return scale(from_fn(lr_lambda), base_lr)


@_checks.arguments(_torch_message, base_lr=_RATE, lr_lambda=_checks.function())
def MultiplicativeLR(base_lr: ArrayLike, lr_lambda: Callable[[jax.Array], jax.Array]) -> Schedule:
    """lr_k = base_lr * lr_lambda(1) * ... * lr_lambda(k); ``lr_lambda(0)`` is never called.

    Evaluation costs O(k) (torch's recursion has no closed form), so steps beyond
    `lrjax.schedules.combinators.REPLAY_LIMIT` (2**32) are refused (`ValueError`; NaN for a
    traced step). A non-callable ``lr_lambda`` raises TypeError, as torch.
    """
    with _checks.renamed(init="base_lr"):
        return multiplicative(base_lr, lr_lambda)


@_checks.arguments(base_lr=_RATE, step_size=_STEPS, gamma=_checks.NONNEGATIVE)
def StepLR(base_lr: ArrayLike, step_size: ArrayLike, gamma: ArrayLike = 0.1) -> Schedule:
    """lr_k = base_lr * gamma ** (k // step_size).

    Examples:
        >>> [round(float(StepLR(0.1, step_size=30)(k)), 6) for k in (0, 29, 30, 60)]
        [0.1, 0.1, 0.01, 0.001]
    """
    with _checks.renamed(init="base_lr", factor="gamma", every="step_size"):
        return step_decay(base_lr, gamma, step_size)


@_checks.arguments(base_lr=_RATE, milestones=_MILESTONES, gamma=_checks.NONNEGATIVE)
def MultiStepLR(base_lr: ArrayLike, milestones: ArrayLike, gamma: ArrayLike = 0.1) -> Schedule:
    """lr_k = base_lr * gamma ** #{m in milestones : m <= k}; repeated milestones count twice."""
    with _checks.renamed(init="base_lr", factor="gamma"):
        return multi_step(base_lr, milestones, gamma)


@_checks.arguments(base_lr=_RATE, factor=_checks.real(0.0, 1.0), total_iters=_checks.START)
def ConstantLR(
    base_lr: ArrayLike, factor: ArrayLike = 1.0 / 3, total_iters: ArrayLike = 5
) -> Schedule:
    """lr_k = base_lr * factor for k < total_iters, then base_lr; factor in [0, 1], as torch
    checks, and ``total_iters`` a whole number of steps >= 0."""
    with _checks.renamed(boundaries="total_iters", values="base_lr"):
        return piecewise_constant(
            jnp.stack([jnp.asarray(total_iters)]), [base_lr * factor, base_lr]
        )


@_checks.arguments(
    base_lr=_RATE,
    start_factor=_checks.real(0.0, 1.0, open_low=True),
    end_factor=_checks.real(0.0, 1.0),
    total_iters=_STEPS,
)
def LinearLR(
    base_lr: ArrayLike,
    start_factor: ArrayLike = 1.0 / 3,
    end_factor: ArrayLike = 1.0,
    total_iters: ArrayLike = 5,
) -> Schedule:
    """lr_k = base_lr * (s + (e - s) * min(k, total_iters) / total_iters).

    Torch requires start_factor in (0, 1] and end_factor in [0, 1], so it cannot warm up
    above ``base_lr``.
    """
    with _checks.renamed(init="base_lr", end="base_lr", steps="total_iters"):
        return linear(base_lr * start_factor, base_lr * end_factor, total_iters)


@_checks.arguments(base_lr=_RATE, gamma=_checks.NONNEGATIVE)
def ExponentialLR(base_lr: ArrayLike, gamma: ArrayLike) -> Schedule:
    """lr_k = base_lr * gamma ** k (unbounded)."""
    with _checks.renamed(init="base_lr", rate="gamma"):
        return exponential_decay(base_lr, gamma)


@_checks.arguments(base_lr=_RATE, total_iters=_STEPS, power=_checks.POSITIVE)
def PolynomialLR(
    base_lr: ArrayLike, total_iters: ArrayLike = 5, power: ArrayLike = 1.0
) -> Schedule:
    """lr_k = base_lr * (1 - min(k, total_iters) / total_iters) ** power; 0 from total_iters on."""
    with _checks.renamed(init="base_lr", steps="total_iters"):
        return polynomial_decay(base_lr, 0.0, total_iters, power)


@_checks.arguments(base_lr=_RATE, T_max=_STEPS, eta_min=_RATE)
def CosineAnnealingLR(base_lr: ArrayLike, T_max: ArrayLike, eta_min: ArrayLike = 0.0) -> Schedule:
    """lr_k = eta_min + (base_lr - eta_min) * (1 + cos(pi * k / T_max)) / 2 for every k.

    Torch does not clamp at T_max: the rate climbs back to ``base_lr`` at 2 * T_max and keeps
    oscillating. Use `lrjax.schedules.cosine_decay` for the clamped schedule.
    """
    with _checks.renamed(peak="base_lr", decay_steps="T_max", final="eta_min"):
        return cosine_decay(base_lr, T_max, final=eta_min, periodic=True)


@_checks.arguments(base_lr=_RATE, T_0=_STEPS, T_mult=_checks.integer(1), eta_min=_RATE)
def CosineAnnealingWarmRestarts(
    base_lr: ArrayLike, T_0: ArrayLike, T_mult: ArrayLike = 1, eta_min: ArrayLike = 0.0
) -> Schedule:
    """SGDR with cycles T_0, T_0 * T_mult, ...; the rate restarts at ``base_lr`` exactly at
    each cycle boundary (exact integer arithmetic, as torch's sequential stepping). As
    torch, ``T_0`` is an integer > 0 and ``T_mult`` an integer >= 1."""
    with _checks.renamed(peak="base_lr", period="T_0", mult="T_mult", final="eta_min"):
        return warm_restarts(base_lr, T_0, T_mult, final=eta_min)


@_checks.arguments(
    base_lr=_RATE,
    max_lr=_RATE,
    step_size_up=_checks.POSITIVE,
    step_size_down=_checks.real(0, optional=True),
    gamma=_checks.NONNEGATIVE,
    scale_fn=_checks.function(optional=True),
    base_momentum=_checks.FINITE,
    max_momentum=_checks.FINITE,
)
def CyclicLR(
    base_lr: ArrayLike,
    max_lr: ArrayLike,
    step_size_up: ArrayLike = 2000,
    step_size_down: ArrayLike | None = None,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
    scale_fn: Callable[[jax.Array], jax.Array] | None = None,
    scale_mode: str = "cycle",
    cycle_momentum: bool = True,
    base_momentum: ArrayLike = 0.8,
    max_momentum: ArrayLike = 0.9,
) -> cyclic:
    """Torch ``CyclicLR``. Here ``base_lr`` is the scheduler's own ``base_lr`` argument (the
    bottom of the cycle), which is what torch writes over the optimizer's rate.

    ``.momentum`` is the momentum (SGD, RMSprop) or beta1 (Adam family) sequence torch
    imposes, from ``max_momentum`` down to ``base_momentum``; None when
    ``cycle_momentum=False`` (torch then leaves the optimizer's momentum alone).

    Validation is torch's: ``mode`` is checked, every value must be finite, and beyond
    torch (whose formulas then divide by zero or give negative rates) the rates and
    ``gamma`` must be >= 0, ``step_size_up`` > 0 and ``step_size_down`` >= 0. Momenta
    outside [0, 1] such as torch's own test values 1 and 5 are accepted.
    """
    if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
        raise ValueError(
            f"mode is invalid and scale_fn is None (mode must be triangular, triangular2 or "
            f"exp_range, got {mode!r})"
        )
    names = dict(low="base_lr", high="max_lr", up_steps="step_size_up")
    with _checks.peer_rules(), _checks.renamed(down_steps="step_size_down", **names):
        return cyclic(
            base_lr,
            max_lr,
            step_size_up,
            step_size_down,
            gamma=gamma,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
            mode=mode if scale_fn is None else "triangular",
            scale_fn=scale_fn,
            scale_mode=scale_mode,
            cycle_momentum=cycle_momentum,
        )


@_checks.arguments(
    _torch_message,
    base_lr=_RATE,
    max_lr=_RATE,
    total_steps=_checks.integer(0, open_low=True, optional=True),
    epochs=_checks.integer(0, open_low=True, optional=True),
    steps_per_epoch=_checks.integer(0, open_low=True, optional=True),
    pct_start=_checks.real(0.0, 1.0),
    base_momentum=_checks.FINITE,
    max_momentum=_checks.FINITE,
    div_factor=_checks.POSITIVE,
    final_div_factor=_checks.POSITIVE,
)
def OneCycleLR(
    base_lr: ArrayLike,
    max_lr: ArrayLike,
    total_steps: ArrayLike | None = None,
    epochs: ArrayLike | None = None,
    steps_per_epoch: ArrayLike | None = None,
    pct_start: ArrayLike = 0.3,
    anneal_strategy: str = "cos",
    cycle_momentum: bool = True,
    base_momentum: ArrayLike = 0.85,
    max_momentum: ArrayLike = 0.95,
    div_factor: ArrayLike = 25.0,
    final_div_factor: ArrayLike = 1e4,
    three_phase: bool = False,
) -> one_cycle:
    """Torch ``OneCycleLR``; ``base_lr`` (the optimizer's rate) is ignored, as in torch.

    The rate starts at ``max_lr / div_factor``, peaks at step ``pct_start * total_steps - 1``
    and reaches ``max_lr / div_factor / final_div_factor`` at ``total_steps - 1``; torch raises
    past ``total_steps`` and lrjax holds the final value. ``.momentum`` is the momentum or
    beta1 sequence (None when ``cycle_momentum=False``).

    Validation is torch's, with torch's messages: a positive integer ``total_steps`` (or
    ``epochs`` and ``steps_per_epoch``), ``pct_start`` in [0, 1], ``anneal_strategy`` cos
    or linear; momenta are not range-checked (torch's own tests use momenta 1 and 22),
    only required to be finite. Beyond torch, the rates must be >= 0 and the factors > 0
    (torch divides by them). Counts may be traced, where torch needs ints.

    Examples:
        >>> s = OneCycleLR(0.05, max_lr=0.1, total_steps=100)
        >>> [round(float(s(k)), 6) for k in (0, 29)]  # max_lr / 25, then the peak
        [0.004, 0.1]
        >>> [round(float(s.momentum(k)), 6) for k in (0, 29)]  # beta1 cycles the other way
        [0.95, 0.85]
    """
    del base_lr
    if total_steps is None:
        if epochs is None or steps_per_epoch is None:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        total_steps = epochs * steps_per_epoch
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(
            f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy!r}"
        )
    with _checks.peer_rules(), _checks.renamed(peak="max_lr"):
        return one_cycle(
            max_lr,
            total_steps,
            pct_start,
            div_factor,
            final_div_factor,
            base_momentum,
            max_momentum,
            anneal="cosine" if anneal_strategy == "cos" else "linear",
            three_phase=three_phase,
            cycle_momentum=cycle_momentum,
        )


class _continued_product(Schedule):
    """previous(at) * factor(0) * factor(1) * ... * factor(k): a ``MultiplicativeLR`` that a
    ``SequentialLR`` switched to, which continues from the rate in effect (torch calls its
    ``get_lr`` at epoch 0 with the current rate, so even ``factor(0)`` applies)."""

    previous: Schedule
    at: ArrayLike
    factor: Callable[[jax.Array], jax.Array] = static()

    def _needs_exact_step(self) -> bool:
        return True  # it replays every step

    def _value(self, step, dtype):
        first = self.previous(self.at).astype(dtype)

        def one(k):
            body = lambda j, acc: acc * jnp.asarray(self.factor(j), dtype)  # noqa: E731
            return lax.fori_loop(0, k + 1, body, first)

        return replay(step, one, "SequentialLR's MultiplicativeLR child")


@_checks.arguments(base_lr=_RATE, milestones=_MILESTONES)
def SequentialLR(
    base_lr: ArrayLike, schedulers: Sequence[Schedule], milestones: ArrayLike
) -> Schedule:
    """Child i runs for milestones[i-1] <= k < milestones[i] and sees ``k - milestones[i-1]``.

    Every child uses the original ``base_lr``, not the rate the previous child ended on,
    except a `MultiplicativeLR` child: torch has no closed form for it, so at its
    milestone it multiplies the current rate by ``lr_lambda(0)`` and continues from there
    (a replay, refused past 2**32 steps into that child as `MultiplicativeLR` is).
    """
    del base_lr  # each child carries it
    milestones = jnp.asarray(milestones)
    children = list(schedulers)
    with _checks.renamed(boundaries="milestones"):  # join's boundaries are the milestones
        for i in range(1, len(children)):
            if isinstance(children[i], multiplicative):
                so_far = join(children[:i], milestones[: i - 1])
                factor = children[i].factor
                children[i] = _continued_product(so_far, milestones[i - 1] - 1, factor)
        return join(children, milestones)


# How ChainedScheduler treats a child, from torch's recursive get_lr():
#   "ratio": lr <- eta + (lr - eta) * (c(k) - eta) / (c(k-1) - eta), with c the child's
#            closed form and eta its affine offset (CosineAnnealingLR's eta_min, else 0);
#   "factor": lr <- lr * lr_lambda(k) (MultiplicativeLR);
#   "absolute": lr <- c(k) (children whose get_lr ignores the current rate).
_RATIO_TYPES = (step_decay, multi_step, piecewise_constant, linear, exponential_decay)


def _chain_kind(s: Schedule) -> str:
    if isinstance(s, multiplicative):
        return "factor"
    if isinstance(s, (*_RATIO_TYPES, cosine_decay)) or (
        isinstance(s, polynomial_decay) and not s.cycle
    ):
        return "ratio"
    return "absolute"


class _chained(Schedule):
    base: ArrayLike
    schedulers: tuple[Schedule, ...]
    kinds: tuple[str, ...] = static()

    def _needs_exact_step(self) -> bool:
        return True  # it replays every step

    def _apply(self, s, kind, lr, k, dtype):
        """One child's update of the current rate at step k (k = 0: its constructor's)."""
        if kind == "absolute":
            return s(k).astype(dtype)
        if kind == "factor":
            return jnp.where(k > 0, lr * jnp.asarray(s.factor(k), dtype), lr)
        if isinstance(s, cosine_decay):
            # CosineAnnealingLR.get_lr: affine in lr, additive when leaving its floor.
            t = jnp.asarray(s.decay_steps, dtype)
            eta = jnp.asarray(s.final, dtype)
            now, before = 1 + jnp.cos(jnp.pi * k / t), 1 + jnp.cos(jnp.pi * (k - 1) / t)
            floor_exit = jnp.remainder(k - 1 - t, 2 * t) == 0
            rise = lr + (s.peak - eta) * (1 - jnp.cos(jnp.pi / t)) / 2
            step = now / jnp.where(floor_exit, 1, before) * (lr - eta) + eta
            return jnp.where(k > 0, jnp.where(floor_exit, rise, step), lr)
        now = s(k).astype(dtype)
        before = jnp.where(k > 0, s(k - 1).astype(dtype), jnp.asarray(self.base, dtype))
        return lr * jnp.where(before != 0, now / jnp.where(before != 0, before, 1), 1)

    def _apply_all(self, children, lr, k, dtype):
        for s, kind in children:
            lr = self._apply(s, kind, lr, k, dtype)
        return lr

    def _value(self, step, dtype):
        children = list(zip(self.schedulers, self.kinds, strict=True))
        base = jnp.asarray(self.base, dtype)
        if "absolute" in self.kinds:
            # Every step overwrites the rate at the last absolute child; only the
            # children after it act on that value, once.
            last = len(self.kinds) - 1 - self.kinds[::-1].index("absolute")
            return self._apply_all(children[last:], base, step, dtype)
        if all(_eta_is_zero(s) for s, kind in children if kind == "ratio"):
            lr = jnp.broadcast_to(base, step.shape)
            for s, kind in children:
                if kind == "factor":
                    lr = lr * multiplicative(1.0, s.factor)(step).astype(dtype)
                else:
                    safe = jnp.where(base != 0, base, 1)
                    lr = lr * jnp.where(base != 0, s(step).astype(dtype) / safe, 1)
            return lr

        def one(k):
            lr0 = self._apply_all(children, base, jnp.zeros((), k.dtype), dtype)
            return lax.fori_loop(
                1, k + 1, lambda j, lr: self._apply_all(children, lr, j, dtype), lr0
            )

        return replay(step, one, "ChainedScheduler")


def _eta_is_zero(s: Schedule) -> bool:
    if not isinstance(s, cosine_decay):
        return True
    eta = _checks.concrete(s.final)
    # NumPy, not jnp: under jit a jnp reduction of even a concrete value is traced.
    return eta is not None and bool(np.all(eta == 0))


@_checks.arguments(base_lr=_RATE)
def ChainedScheduler(base_lr: ArrayLike, schedulers: Sequence[Schedule]) -> Schedule:
    """Apply every child's own step rule to the current rate, in list order, at each step.

    For multiplicative children (StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
    PolynomialLR, MultiplicativeLR) this is ``base_lr * prod_i factor_i(k)``. A
    ``CosineAnnealingLR`` with ``eta_min != 0`` is affine in the current rate, so a chain
    holding one is evaluated by replaying the recursion (O(k) per evaluation; steps beyond
    2**32 are refused as for `MultiplicativeLR`). A child whose rule ignores the current
    rate (LambdaLR, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts) overwrites it at
    every step; only the children after it then apply.
    """
    schedulers = tuple(schedulers)
    if not schedulers:
        raise ValueError("ChainedScheduler expects at least one scheduler, got none")
    return _chained(base_lr, schedulers, tuple(_chain_kind(s) for s in schedulers))


@_checks.arguments(
    base_lr=_RATE,
    factor=_checks.real(0, 1, open_high=True),
    patience=_checks.integer(0),
    threshold=_checks.NONNEGATIVE,
    cooldown=_checks.integer(0),
    min_lr=_RATE,
    eps=_checks.NONNEGATIVE,
)
def ReduceLROnPlateau(
    base_lr: ArrayLike,
    mode: str = "min",
    factor: ArrayLike = 0.1,
    patience: ArrayLike = 10,
    threshold: ArrayLike = 1e-4,
    threshold_mode: str = "rel",
    cooldown: ArrayLike = 0,
    min_lr: ArrayLike = 0.0,
    eps: ArrayLike = 1e-8,
) -> ReduceOnPlateau:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau`` as a pure controller.

    ``c.lr(state)`` after k calls ``state = c.step(state, metric)`` is torch's lr after k
    ``scheduler.step(metric)`` calls, starting from ``c.init()`` (lr = base_lr). The relative
    threshold is torch's ``best * (1 - threshold)`` (``1 + threshold`` in max mode), which
    for negative metrics accepts a slightly worse value as an improvement; lrjax's native
    `lrjax.adaptive.ReduceOnPlateau` measures it on ``|best|`` instead.

    ``factor`` is in [0, 1) (torch: < 1), ``patience`` and ``cooldown`` are integers >= 0.
    """
    return ReduceOnPlateau(
        base_lr,
        factor,
        patience,
        threshold,
        cooldown,
        min_lr,
        eps,
        mode=mode,
        threshold_mode=threshold_mode,
        signed_rel=True,
    )
