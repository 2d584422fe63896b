"""The learning rate an optimizer state applied: one number, or one per parameter group.

A state is a tree of sub-states. Pieces in series (an `optax.chain`, a wrapper such as
`optax.MultiSteps` or `optax.inject_hyperparams`) scale the same updates one after the
other, so their rates and factors multiply into the effective rate. Pieces in parallel
(`optax.multi_transform` / `optax.partition`, or `optax.masked` pieces that each scale
their own leaves) scale different updates: their rates are never combined, because a
product of two groups' rates is the rate of neither.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax
from optax.transforms import _combining, _masking

# A rate: one array, or {group label: rate} for the groups of a partition.
Rate = Any


class _Masked(NamedTuple):
    """The rate of an `optax.masked` piece: it applies to the selected leaves only."""

    rate: Rate


def applied_lr(state: optax.OptState) -> Rate:
    """The learning rate that an optimizer state applied at its last update.

    Works on any state that contains lrjax pieces, however deeply nested: `optax.chain`
    tuples, `optax.MultiSteps`, `optax.apply_if_finite`, `optax.inject_hyperparams`, masks.
    Every lrjax state that scales updates by a rate or a factor reports it; pieces in
    series multiply (the effective rate), batched like the state when it was vmapped.

    Parameter groups (`optax.multi_transform`, `optax.partition`) give a dict keyed by the
    partition's labels, one rate per group that holds one (a group without an lrjax rate,
    such as a frozen one, is left out); a factor in series with the partition (a
    loss-aware scale after it) multiplies every group's rate.

    Raises:
      ValueError: the state holds no lrjax learning rate, or it holds rates that apply to
        different leaves without labels (two `optax.masked` pieces with their own rates,
        or a masked rate in series with another): no one number is the rate there; give
        the groups labels with `optax.partition`.

    Examples:
        >>> import jax.numpy as jnp, optax, lrjax
        >>> schedule = lrjax.schedules.linear(0.1, 0.0, 10)
        >>> opt = optax.chain(optax.clip_by_global_norm(1.0), lrjax.adam(schedule))
        >>> params = jnp.ones(3)
        >>> state = opt.init(params)
        >>> for _ in range(3):
        ...     updates, state = opt.update(params, state, params)
        >>> round(float(lrjax.applied_lr(state)), 6)  # the third update used lr(2)
        0.08
        >>> groups = optax.partition(
        ...     {"backbone": lrjax.adam(1e-4), "head": lrjax.adam(1e-3)},
        ...     {"w": "backbone", "b": "head"},
        ... )
        >>> state = groups.init({"w": jnp.ones(2), "b": jnp.ones(1)})
        >>> {k: round(float(v), 6) for k, v in lrjax.applied_lr(state).items()}
        {'backbone': 0.0001, 'head': 0.001}
    """
    rate = find_rate(state)
    if rate is None:
        raise ValueError(
            "applied_lr: the state holds no lrjax learning-rate state; build the optimizer "
            "with lrjax (for example lrjax.adam or lrjax.scale_by_learning_rate)"
        )
    return rate


def find_rate(state: optax.OptState) -> Rate | None:
    """`applied_lr`, or None where the state holds no lrjax rate (it still raises where
    rates apply to different leaves without labels)."""
    return _unmask(_rate(state))


def _rate(node: Any) -> Rate | _Masked | None:
    """The rate of one sub-state: None where it holds none."""
    if hasattr(node, "applied_lr") and not isinstance(node, type):
        return node.applied_lr()
    if isinstance(node, _combining.PartitionState):
        groups = {k: _unmask(_rate(s)) for k, s in node.inner_states.items()}
        groups = {k: r for k, r in groups.items() if r is not None}
        return groups or None
    if isinstance(node, _masking.MaskedState):
        inner = _rate(node.inner_state)
        return None if inner is None else _Masked(_unmask(inner))
    children, treedef = jax.tree_util.tree_flatten(node, is_leaf=lambda x: x is not node)
    if treedef.num_nodes == 1:  # an array or None: no rate
        return None
    return _series([r for r in map(_rate, children) if r is not None])


def _unmask(rate: Rate | _Masked | None) -> Rate | None:
    """Inside a partition group every leaf is the group's, so a mask there is no split."""
    return rate.rate if isinstance(rate, _Masked) else rate


def _series(rates: list) -> Rate | _Masked | None:
    """Pieces that scale the same updates one after the other: their rates multiply."""
    if not rates:
        return None
    if len(rates) == 1:
        return rates[0]
    if any(isinstance(r, _Masked) for r in rates):
        raise ValueError(
            "applied_lr: the state holds learning rates that apply to different leaves "
            "(optax.masked pieces with their own rates), so no one rate is applied; give "
            "the groups labels with optax.partition and applied_lr returns one per label"
        )
    groups = [r for r in rates if isinstance(r, dict)]
    if len(groups) > 1:
        raise ValueError(
            "applied_lr: the state holds two parameter partitions in series; their "
            "groups' rates cannot be paired by label"
        )
    factor = None
    for r in rates:
        if not isinstance(r, dict):
            factor = r if factor is None else factor * r
    if not groups:
        return factor
    return jax.tree.map(lambda r: r * factor, groups[0])
