"""The learning rate an optimizer state applied: one number, or one per parameter group.

A state is a tree of sub-states. Pieces in series (an `optax.chain`, a wrapper such as
`optax.MultiSteps` or `optax.inject_hyperparams`) scale the same updates one after the
other, so their rates and factors multiply into the effective rate. Pieces in parallel
(`optax.multi_transform` / `optax.partition`, or `optax.masked` pieces that each scale
their own leaves) scale different updates: their rates are never combined, because a
product of two groups' rates is the rate of neither.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
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

    Flax NNX: ``optimizer.opt_state`` (its leaves wrapped in ``OptArray`` variables) and
    ``nnx.state(optimizer)`` (the same state with every NamedTuple turned into a dict of
    its fields) both work, and the result is plain arrays: a snapshot, never the live
    variable that the next update overwrites.

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
    # Only a state that went through nnx.state (NNX variables in it, or a dict at its
    # root: an optax state is a tuple) can hold NamedTuples flattened into dicts. In any
    # other state a dict is the user's params (a moment), and its keys may well be field
    # names: a LayerNorm's {"scale": ...} is not a ScaleByLossState.
    flattened = isinstance(state, Mapping) or any(
        _is_variable(x) for x in jax.tree.leaves(state, is_leaf=_is_variable)
    )
    return _unmask(_rate(_plain(state), flattened))


def _rate(node: Any, flattened: bool) -> Rate | _Masked | None:
    """The rate of one sub-state: None where it holds none."""
    if hasattr(node, "applied_lr") and not isinstance(node, type):
        return node.applied_lr()
    if flattened and isinstance(node, Mapping):
        as_fields = _from_fields(node)
        if as_fields is not None:
            return _rate(as_fields, flattened)
    if isinstance(node, _combining.PartitionState):
        groups = {k: _unmask(_rate(s, flattened)) for k, s in node.inner_states.items()}
        groups = {k: r for k, r in groups.items() if r is not None}
        return groups or None
    if isinstance(node, _masking.MaskedState):
        inner = _rate(node.inner_state, flattened)
        return None if inner is None else _Masked(_unmask(inner))
    children, treedef = jax.tree_util.tree_flatten(node, is_leaf=lambda x: x is not node)
    if treedef.num_nodes == 1:  # an array or None: no rate
        return None
    rates = (_rate(child, flattened) for child in children)
    return _series([r for r in rates if r is not None])


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


# --------------------------------------------------------------------------------------
# Flax NNX: variables around the leaves, and states flattened into dicts


def _is_variable(x: Any) -> bool:
    """A Flax NNX variable (``OptArray``, ``OptVariable``, ``Param``...): duck-typed, so
    that lrjax never imports flax."""
    return type(x).__module__.startswith("flax.") and hasattr(x, "get_value")


def _plain(state: Any) -> Any:
    """``state`` with every NNX variable replaced by its current value."""
    return jax.tree.map(
        lambda x: x.get_value() if _is_variable(x) else x, state, is_leaf=_is_variable
    )


@jax.tree_util.register_pytree_node_class
class _Fields:
    """A dict of a NamedTuple's fields read as that tuple: ``fields.name`` (nested dicts
    too), and a pytree of its values, so that the class's ``applied_lr`` runs on it."""

    def __init__(self, items: Mapping):
        self._items = dict(items)

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._items[name]
        except KeyError:
            raise AttributeError(name) from None
        return _Fields(value) if isinstance(value, Mapping) else value

    def tree_flatten(self):
        return list(self._items.values()), list(self._items)

    @classmethod
    def tree_unflatten(cls, keys, values):
        return cls(dict(zip(keys, values, strict=True)))


def _state_classes() -> dict[frozenset, type]:
    """lrjax's state classes that report a rate, by their field names: every NamedTuple
    with an ``applied_lr`` in a loaded lrjax module (a state can only come from one)."""
    found: dict[frozenset, type] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("lrjax."):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "applied_lr"):
                found.setdefault(frozenset(getattr(obj, "_fields", ())), obj)
    return found


def _from_fields(node: Mapping) -> Any:
    """The sub-state a dict stands for where ``nnx.state`` flattened one: an lrjax state
    (its field names), a partition (``inner_states``) or a mask (``inner_state``); None
    for any other dict."""
    keys = frozenset(str(k) for k in node)
    cls = _state_classes().get(keys)
    if cls is not None and not _params_like(node):
        return _Reported(cls.applied_lr(_Fields(node)))
    if keys == {"inner_states"}:
        return _combining.PartitionState(dict(node["inner_states"]))
    if keys == {"inner_state"}:
        return _masking.MaskedState(node["inner_state"])
    return None


def _params_like(node: Mapping) -> bool:
    """A one-field dict whose value is an array with axes: a parameter named like the
    field (a LayerNorm's ``scale``), since one-field states hold a scalar there."""
    if len(node) != 1:
        return False
    (value,) = node.values()
    return getattr(value, "ndim", 0) > 0


class _Reported(NamedTuple):
    """A rate already read from a flattened state."""

    rate: Any

    def applied_lr(self) -> Any:
        return self.rate
