"""Torch's parameter-group list form for the `lrjax.compat.torch` optimizers.

``torch.optim.AdamW([{"params": backbone, "lr": 1e-4}, {"params": head}], lr=1e-3)``
ports as ``lrjax.compat.torch.AdamW([{"params": "backbone/**", "lr": 1e-4}, {"params":
"head/**"}], lr=1e-3)``: each group's ``"params"`` is a selector over parameter names
(a glob pattern, a list of them, or a predicate ``(name, leaf) -> bool``; see
`lrjax.transforms.groups`) in place of torch's tensors, its other keys override the
defaults given after the list (positionally, as torch's, or by keyword), and the update
of every group is torch's, with its own state per parameter. Torch's rules hold: a
parameter in two groups is an error, and so is a parameter in no group (torch would
never update it). Two keys are not optimizer arguments: ``"name"`` labels the group for
`lrjax.applied_lr` (default: its index, "0", "1", ...), and ``"lr_scale"`` multiplies
the group's rate, as timm's schedulers read it. Any other unknown key is a `TypeError`
(torch keeps it silently).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optax

from lrjax import schedules as S
from lrjax.transforms.groups import map_named, selects

_EXTRA = frozenset({"params", "name", "lr_scale"})
_KERNEL_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})


def is_group_list(x: Any) -> bool:
    """Whether ``x`` is torch's list of parameter groups (dicts with "params")."""
    return (
        isinstance(x, Sequence)
        and not isinstance(x, str)
        and len(x) > 0
        and all(isinstance(g, Mapping) and "params" in g for g in x)
    )


def accepts_groups(constructor: Callable[..., optax.GradientTransformation]) -> Callable:
    """``constructor`` that also takes torch's group list as its first argument."""

    @functools.wraps(constructor)
    def make(*args: Any, **kwargs: Any) -> optax.GradientTransformation:
        if args and is_group_list(args[0]):
            return grouped(constructor, args[0], args[1:], kwargs)
        if args and isinstance(args[0], Sequence) and args[0] and isinstance(args[0][0], Mapping):
            raise TypeError(f"{constructor.__name__}: each parameter group needs a 'params' entry")
        return constructor(*args, **kwargs)

    return make


def grouped(
    constructor: Callable[..., optax.GradientTransformation],
    groups: Sequence[Mapping[str, Any]],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> optax.GradientTransformation:
    """One ``constructor`` per group, its options the defaults overridden by the group's
    own, each group on its parameters only (`optax.partition`)."""
    signature = inspect.signature(constructor)
    positional = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(args) > len(positional):
        raise TypeError(
            f"{constructor.__name__} takes at most {len(positional)} positional defaults"
        )
    defaults = {**dict(zip(positional, args, strict=False)), **kwargs}
    known = set(signature.parameters) | _KERNEL_FLAGS
    transforms, selectors = {}, {}
    for index, group in enumerate(groups):
        label = str(group.get("name", index))
        if label in transforms:
            raise ValueError(f"two parameter groups are named {label!r}")
        unknown = sorted(set(group) - known - _EXTRA)
        if unknown:
            raise TypeError(
                f"parameter group {label!r}: {unknown[0]!r} is not an argument of "
                f"{constructor.__name__}"
            )
        options = {**defaults, **{k: v for k, v in group.items() if k not in _EXTRA}}
        if "lr_scale" in group:
            rate = options.get("lr", signature.parameters["lr"].default)
            scale = group["lr_scale"]
            options["lr"] = S.scale(rate, scale) if isinstance(rate, S.Schedule) else rate * scale
        transforms[label] = constructor(**options)
        selectors[label] = selects(group["params"])
    return optax.partition(transforms, _one_group_each(selectors))


def _one_group_each(selectors: Mapping[str, Callable[[str, Any], bool]]) -> Callable:
    """``params -> labels``, with torch's rule: every parameter in exactly one group."""

    def label_of(name, leaf):
        found = [label for label, test in selectors.items() if test(name, leaf)]
        if not found:
            raise ValueError(
                f"parameter {name!r} is in no parameter group; torch would never update it: "
                f"select it in a group"
            )
        if len(found) > 1:
            raise ValueError(
                f"parameter {name!r} is in groups {', '.join(found)}; torch refuses a "
                f"parameter in more than one group"
            )
        return found[0]

    return lambda params: map_named(label_of, params)
