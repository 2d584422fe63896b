"""Schedules built from schedules: warmup, join, clip, scale, product, switch, and
schedules from user functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.schedules.base import Schedule, anneal, as_array, static


@_checks.arguments(
    steps=_checks.START, init=_checks.NONNEGATIVE, target=_checks.real(0, optional=True)
)
class warmup(Schedule):
    """Ramp from ``init`` to ``target`` over ``steps``, then follow ``schedule``.

    * k < W: ``anneal(init, target, k / W, shape)`` with shape ``linear``, ``cosine`` or
      ``exponential`` (geometric, needs init > 0).
    * k >= W: ``schedule(k - W)`` when ``shift`` (the schedule starts after the warmup),
      ``schedule(k)`` otherwise (the warmup overlaps the schedule's first W steps).

    The default ``target`` is where the schedule takes over, ``schedule(0)`` or
    ``schedule(W)``, so the joined curve is continuous; pass ``target`` to ramp to another
    value (timm ramps to the base rate even when that leaves a jump). Sources: Goyal et al.
    2017 (gradual warmup); timm ``warmup_t``/``warmup_prefix``; Keras ``CosineDecay``'s
    ``warmup_target``.

    Examples:
        >>> from lrjax.schedules import cosine_decay
        >>> s = warmup(cosine_decay(0.1, 90), 10)
        >>> [round(float(s(k)), 6) for k in (0, 5, 10)]  # 0 -> peak over 10 steps
        [0.0, 0.05, 0.1]
    """

    schedule: Schedule
    steps: ArrayLike
    init: ArrayLike = 0.0
    target: ArrayLike | None = None
    shape: str = static("linear")
    shift: bool = static(True)

    def __post_init__(self):
        _checks.one_of("shape", self.shape, ("linear", "cosine", "exponential"))
        if self.shape == "exponential":
            _checks.positive("init", self.init)

    def _value(self, step, dtype):
        w = jnp.asarray(self.steps, dtype)
        target = self.target
        if target is None:
            target = self.schedule(self.steps if not self.shift else 0)
        ramp = anneal(self.init, target, step.astype(dtype) / jnp.where(w > 0, w, 1), self.shape)
        after = self.schedule(step - self.steps if self.shift else step)
        return jnp.where(step < self.steps, ramp, after)


@_checks.arguments(boundaries=_checks.integer(0, shape="vector"))
class join(Schedule):
    """Follow ``schedules[i]`` for ``boundaries[i-1] <= k < boundaries[i]``.

    Child i sees ``k - boundaries[i-1]`` when it restarts at its boundary (``restart``, the
    default, as PyTorch ``SequentialLR`` and optax ``join_schedules``), or the global step
    ``k`` when it continues. ``restart`` is one flag for all children or one per child.
    Boundaries are an array and may be traced.
    """

    schedules: Sequence[Schedule]
    boundaries: ArrayLike
    restart: bool | tuple[bool, ...] = static(True)

    def __post_init__(self):
        object.__setattr__(self, "schedules", tuple(self.schedules))
        object.__setattr__(self, "boundaries", as_array(self.boundaries))
        n = len(self.schedules)
        if jnp.shape(self.boundaries)[-1:] != (n - 1,):
            raise ValueError(
                f"boundaries must have len(schedules) - 1 = {n - 1} entries, "
                f"got shape {jnp.shape(self.boundaries)}"
            )
        restart = self.restart
        restart = (restart,) * n if isinstance(restart, bool) else tuple(map(bool, restart))
        if len(restart) != n:
            raise ValueError(f"restart must be a bool or {n} bools, got {self.restart!r}")
        object.__setattr__(self, "restart", restart)
        _checks.nondecreasing("boundaries", self.boundaries)

    def _value(self, step, dtype):
        starts = [0, *(self.boundaries[..., i] for i in range(len(self.schedules) - 1))]
        values = [
            s(step - start if again else step).astype(dtype)
            for s, start, again in zip(self.schedules, starts, self.restart, strict=True)
        ]
        # The boundaries are nondecreasing, so the last child whose start has passed wins.
        value = values[0]
        for start, later in zip(starts[1:], values[1:], strict=True):
            value = jnp.where(step >= start, later, value)
        return value


@_checks.arguments(floor=_checks.real(0, optional=True), ceiling=_checks.real(0, optional=True))
class clip(Schedule):
    """lr(k) = min(max(schedule(k), floor), ceiling); either bound may be None.

    Example, bounded exponential decay: ``clip(exponential_decay(init, 1 - gamma),
    min_lr, max_lr)`` gives ``max(min(init * (1 - gamma) ** k, max_lr), min_lr)``.
    """

    schedule: Schedule
    floor: ArrayLike | None = None
    ceiling: ArrayLike | None = None

    def __post_init__(self):
        if self.floor is not None and self.ceiling is not None:
            lo, hi = _checks.concrete(self.floor), _checks.concrete(self.ceiling)
            if lo is not None and hi is not None and not lo <= hi:
                raise ValueError(f"floor must be <= ceiling, got {lo} and {hi}")

    def _value(self, step, dtype):
        value = self.schedule(step).astype(dtype)
        if self.ceiling is not None:
            value = jnp.minimum(value, self.ceiling)
        if self.floor is not None:
            value = jnp.maximum(value, self.floor)
        return value


@_checks.arguments(factor=_checks.NONNEGATIVE)
class scale(Schedule):
    """lr(k) = factor * schedule(k)."""

    schedule: Schedule
    factor: ArrayLike

    def _value(self, step, dtype):
        return self.factor * self.schedule(step).astype(dtype)


@_checks.arguments(every=_checks.integer(1))
class staircase(Schedule):
    """lr(k) = schedule(floor(k / every)): ``schedule`` counted in units of ``every``
    steps and held within each unit.

    A PyTorch scheduler stepped once per epoch of ``steps_per_epoch`` updates is
    ``staircase(its schedule, steps_per_epoch)``, and PureJaxRL's annealing, which moves
    once per PPO update of ``update_epochs * num_minibatches`` optimizer steps, is
    ``staircase(linear(lr, 0, num_updates), update_epochs * num_minibatches)``. ``every``
    is an integer >= 1 and may be traced.

    Examples:
        >>> from lrjax.schedules import linear
        >>> [round(float(staircase(linear(1.0, 0.0, 4), 3)(k)), 2) for k in (0, 2, 3, 7)]
        [1.0, 1.0, 0.75, 0.5]
    """

    schedule: Schedule
    every: ArrayLike

    def _value(self, step, dtype):
        every = jnp.asarray(self.every).astype(step.dtype)
        return self.schedule(step // every).astype(dtype)


@_checks.arguments(every=_checks.POSITIVE)
class rescale(Schedule):
    """lr(k) = schedule(k / every): a schedule written in units of ``every`` steps (a
    schedule in epochs, with ``every`` updates per epoch) evaluated at fractional units,
    so that it moves at every step (timm's ``step_update`` of a per-epoch schedule).
    ``schedule`` must be a closed form of its step (one that cycles, restarts, replays or
    adds noise per step needs whole steps: use `staircase`). ``every`` may be traced.

    Examples:
        >>> from lrjax.schedules import linear
        >>> [round(float(rescale(linear(1.0, 0.0, 4), 2)(k)), 3) for k in (0, 1, 3, 8)]
        [1.0, 0.875, 0.625, 0.0]
    """

    schedule: Schedule
    every: ArrayLike

    def __post_init__(self):
        if self.schedule._needs_exact_step():
            raise ValueError(
                f"rescale needs a closed-form schedule; {type(self.schedule).__name__} "
                f"needs whole steps: use staircase"
            )

    def _value(self, step, dtype):
        return self.schedule(step.astype(dtype) / jnp.asarray(self.every, dtype)).astype(dtype)


class product(Schedule):
    """lr(k) = schedules[0](k) * schedules[1](k) * ...

    Useful for a multiplier schedule on top of a base schedule (PyTorch ``ChainedScheduler``
    of multiplicative schedulers).
    """

    schedules: Sequence[Schedule]

    def __post_init__(self):
        object.__setattr__(self, "schedules", tuple(self.schedules))
        if not self.schedules:
            raise ValueError("product needs at least one schedule, got none")

    def _value(self, step, dtype):
        out = self.schedules[0](step).astype(dtype)
        for s in self.schedules[1:]:
            out = out * s(step).astype(dtype)
        return out


@_checks.arguments(index=_checks.integer(0))
class switch(Schedule):
    """lr(k) = schedules[index](k), with ``index`` an integer that may be traced.

    One vmapped program can then sweep across schedule families: vmap over ``index``
    (and each family's hyperparameters) and every member follows its own family. The index
    is clipped to the valid range.

    Examples:
        >>> import jax, jax.numpy as jnp
        >>> from lrjax.schedules import constant, cosine_decay
        >>> def family(index):  # one schedule per member, chosen by a traced index
        ...     return switch(index, [constant(0.1), cosine_decay(0.1, 100)])(50)
        >>> [round(float(x), 6) for x in jax.vmap(family)(jnp.array([0, 1]))]
        [0.1, 0.05]
    """

    index: ArrayLike
    schedules: Sequence[Schedule]

    def __post_init__(self):
        object.__setattr__(self, "schedules", tuple(self.schedules))
        if not self.schedules:
            raise ValueError("switch needs at least one schedule, got none")
        _checks.between("index", self.index, 0, len(self.schedules) - 1)

    def _value(self, step, dtype):
        branches = [lambda k, s=s: s(k).astype(dtype) for s in self.schedules]
        index = jnp.clip(jnp.asarray(self.index, jnp.int32), 0, len(branches) - 1)
        return lax.switch(index, branches, step)


@_checks.arguments(
    schedule=_checks.real(0, schedule=True),
    value=_checks.NONNEGATIVE,
    start=_checks.START,
    steps=_checks.START,
)
class anneal_to(Schedule):
    """Follow ``schedule`` until step ``start``, then anneal from the rate it had there to
    ``value`` over ``steps`` steps, and hold ``value``: the SWA rate (PyTorch's ``SWALR``).

    * k < start: ``schedule(k)``
    * k >= start: ``anneal(schedule(start), value, min((k - start) / steps, 1), shape)``,
      with ``shape`` ``"cosine"`` or ``"linear"``; ``steps = 0`` jumps to ``value`` at
      ``start``.

    ``schedule`` may be a number (a constant rate). torch's ``SWALR`` anneals from the
    optimizer's rate at the moment it is first stepped; that is ``schedule(start)`` here,
    so the curve is continuous. In torch's SWA loop (``if epoch > swa_start:
    swa_scheduler.step() else: scheduler.step()``, one step per epoch) the SWA phase
    starts at ``start = swa_start + 1``; `lrjax.compat.torch.SWALR` is this schedule with
    torch's arguments. All numeric fields may be traced.

    Reference: Izmailov et al., "Averaging weights leads to wider optima and better
    generalization", UAI 2018; ``torch.optim.swa_utils.SWALR``.

    Examples:
        >>> from lrjax.schedules import cosine_decay
        >>> s = anneal_to(cosine_decay(0.1, 100), 0.01, start=50, steps=10, shape="linear")
        >>> [round(float(s(k)), 6) for k in (0, 50, 55, 60, 99)]
        [0.1, 0.05, 0.03, 0.01, 0.01]
    """

    schedule: Schedule | ArrayLike
    value: ArrayLike
    start: ArrayLike = 0
    steps: ArrayLike = 10
    shape: str = static("cosine")

    def __post_init__(self):
        _checks.one_of("shape", self.shape, ("cosine", "linear"))

    def _at(self, step, dtype):
        if callable(self.schedule):
            return self.schedule(step).astype(dtype)
        return jnp.broadcast_to(jnp.asarray(self.schedule, dtype), jnp.shape(step))

    def _value(self, step, dtype):
        begin = self._at(jnp.asarray(self.start), dtype)
        steps = jnp.asarray(self.steps, dtype)
        pct = (step - self.start).astype(dtype) / jnp.where(steps > 0, steps, 1)
        pct = jnp.where(steps > 0, jnp.clip(pct, 0, 1), 1)
        value = jnp.asarray(self.value, dtype)
        after = jnp.where(pct >= 1, value, anneal(begin, value, pct, self.shape))  # exact
        return jnp.where(step < self.start, self._at(step, dtype), after)


@_checks.arguments(fn=_checks.function())
class from_fn(Schedule):
    """lr(k) = fn(k, **params) for a jax-traceable ``fn``.

    ``fn`` is static (part of the tree structure: pass the same function object to avoid
    recompiling); ``params`` are leaves and may be traced. PyTorch ``LambdaLR`` is
    ``scale(from_fn(lr_lambda), base_lr)``.
    """

    fn: Callable[..., jax.Array] = static()
    params: dict[str, Any] | None = None

    def _value(self, step, dtype):
        return jnp.asarray(self.fn(step, **(self.params or {})), dtype)


REPLAY_LIMIT = 2**32
"""The largest step that a step-by-step replay (`multiplicative`, and the PyTorch
``ChainedScheduler`` and ``SequentialLR`` recursions) evaluates. A replay costs one loop
iteration per step, a few nanoseconds each on a CPU core: 2**32 steps take seconds to a
minute, 2**40 would take hours."""


def replay(step: jax.Array, one: Callable[[jax.Array], jax.Array], name: str) -> jax.Array:
    """``one(k)`` for every entry k of the non-negative ``step``, with k in an integer type
    that holds it, so that a loop of k iterations never wraps.

    An integer step keeps its type (int64 under ``jax_enable_x64``: a cast to int32 would
    turn 2**31 + j into a negative count and skip the loop). A float step is floored into
    the default integer type. A step beyond `REPLAY_LIMIT` (or beyond that integer type) is
    not replayed: a concrete one raises `ValueError` naming ``name``; a traced one gives NaN
    there, its loop skipped (a traced value cannot raise).
    """
    if jnp.issubdtype(step.dtype, jnp.integer):
        index = step.dtype
        beyond = step > min(REPLAY_LIMIT, jnp.iinfo(index).max)
    else:
        index = jax.dtypes.canonicalize_dtype(jnp.int64)
        # The bound must be a float that the comparison holds exactly: 2**31 (exclusive)
        # for an int32 count, REPLAY_LIMIT (a power of two) for an int64 one.
        whole = jnp.floor(step)
        if jnp.iinfo(index).max > REPLAY_LIMIT:
            beyond = ~(whole <= REPLAY_LIMIT)  # NaN is beyond too
        else:
            beyond = ~(whole < 2.0 ** (jnp.iinfo(index).bits - 1))
    if not isinstance(beyond, jax.core.Tracer) and bool(jnp.any(beyond)):
        raise ValueError(
            f"step {step.max()} is beyond the {REPLAY_LIMIT} (2**32) steps that {name} "
            "replays: it applies one factor per step, so evaluation costs O(step), and a "
            "larger step would run for hours; use a closed-form schedule instead (a "
            "constant factor is exponential_decay)"
        )
    k = jnp.where(beyond, 0, step).astype(index)
    values = jax.vmap(one)(jnp.ravel(k)).reshape(step.shape)
    return jnp.where(beyond, jnp.nan, values)


@_checks.arguments(init=_checks.NONNEGATIVE, factor=_checks.function())
class multiplicative(Schedule):
    """lr(k) = init * factor(1) * factor(2) * ... * factor(k), for a jax-traceable ``factor``.

    PyTorch ``MultiplicativeLR``: the first factor applies at k = 1, and ``factor(0)`` is
    never used. The product is accumulated left to right as PyTorch does, in a loop of k
    iterations, so evaluation costs O(k); prefer a closed form where one exists. The loop
    counts in the step's integer type (``factor`` sees int64 steps under x64). Steps beyond
    `REPLAY_LIMIT` (2**32) are not replayed: a concrete one raises `ValueError`, a traced
    one gives NaN.
    """

    init: ArrayLike
    factor: Callable[[jax.Array], jax.Array] = static()

    def _needs_exact_step(self) -> bool:
        return True  # it replays every step

    def _value(self, step, dtype):
        def one(k):
            body = lambda j, acc: acc * jnp.asarray(self.factor(j), dtype)  # noqa: E731
            return lax.fori_loop(1, k + 1, body, jnp.asarray(self.init, dtype))

        return replay(step, one, "multiplicative")
