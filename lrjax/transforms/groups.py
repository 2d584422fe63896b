"""Parameter groups: these parameters get this optimizer, rate, schedule or weight decay.

A group selects parameters by the "/"-joined names of their `jax.tree_util` key paths,
so one rule reads dicts, lists, Flax NNX and Linen params and Equinox modules alike:
``{"backbone": {"w": ...}}`` has the name ``backbone/w``, the second of a list of
blocks ``blocks/1/w``, an Equinox module's field ``layers/0/weight``. A selector is a
glob pattern (``*`` within one part of a name, ``**`` across any number of parts, so
``backbone/**`` is everything under ``backbone``), a list of patterns (any of them), or
a predicate ``(name, leaf) -> bool`` (``lambda name, p: p.ndim <= 1`` for norms and
biases). The first group that selects a parameter takes it; the rest get the default.

`param_groups` builds the optimizer (an `optax.partition` underneath, so
`lrjax.applied_lr` gives one rate per group label); `layer_decay` is timm's and BEiT's
layer-wise rate decay on top of it: the rate of layer ``l`` is ``rate * decay ** (depth
- l)``.

References: PyTorch's per-parameter options (``torch.optim`` parameter groups); timm
``optim.param_groups_layer_decay``; Bao et al., "BEiT", ICLR 2022 (layer-wise decay).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax import schedules as S

Selector = str | Sequence[str] | Callable[[str, Any], bool]
"""A glob pattern over parameter names, a list of them, or a predicate (name, leaf)."""

DEFAULT = "default"
"""The label of the parameters no group selects."""


def name_of(path: Sequence[Any]) -> str:
    """A key path as a name: its parts "/"-joined (dict keys, attribute names, sequence
    indices), ``backbone/blocks/0/w``."""
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def names(params: Any) -> list[str]:
    """The name of every parameter of ``params``, in leaf order."""
    leaves = jax.tree_util.tree_leaves_with_path(params, is_leaf=_is_variable)
    return [name_of(path) for path, _ in leaves]


def map_named(fn: Callable[[str, Any], Any], params: Any) -> Any:
    """``fn(name, leaf)`` for every parameter, in the structure of ``params``. A Flax NNX
    variable counts as one parameter, named without the variable's own key and given to
    ``fn`` as its value, so that names and predicates read the same at ``init`` (the
    model's variables) and at ``update`` (the gradients)."""

    def one(path, leaf):
        return fn(name_of(path), leaf.get_value() if _is_variable(leaf) else leaf)

    return jax.tree_util.tree_map_with_path(one, params, is_leaf=_is_variable)


def _is_variable(x: Any) -> bool:
    """A Flax NNX variable (duck-typed: lrjax does not import flax)."""
    return type(x).__module__.startswith("flax.") and hasattr(x, "get_value")


def matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the glob ``pattern``: ``*`` (any characters) and ``?``
    (one) within one "/"-separated part, ``**`` for any number of whole parts (none
    included: ``**/bias`` matches ``bias`` and ``a/b/bias``).

    Examples:
        >>> matches("backbone/**", "backbone/blocks/0/w"), matches("backbone/**", "head/w")
        (True, False)
        >>> matches("blocks/*/b*", "blocks/3/bias"), matches("**/bias", "bias")
        (True, True)
    """
    return _compiled(pattern).fullmatch(name) is not None


def _compiled(pattern: str) -> re.Pattern:
    parts = pattern.split("/")
    regex = ""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]*/)*"
            continue
        for char in part:
            regex += {"*": "[^/]*", "?": "[^/]"}.get(char) or re.escape(char)
        regex += "" if last else "/"
    return re.compile(regex)


def selects(selector: Selector) -> Callable[[str, Any], bool]:
    """``selector`` as a predicate ``(name, leaf) -> bool``; `TypeError` for anything
    that is not a pattern, a list of patterns or a callable."""
    if callable(selector):
        return selector
    patterns = [selector] if isinstance(selector, str) else selector
    if not isinstance(patterns, Sequence) or not all(isinstance(p, str) for p in patterns):
        raise TypeError(
            f"a group's selector must be a pattern, a list of patterns or a function "
            f"(name, leaf) -> bool, got {selector!r}"
        )
    return lambda name, leaf: any(matches(p, name) for p in patterns)


def labels(groups: Mapping[str, Selector], default: str | None = DEFAULT) -> Callable:
    """``params -> labels``: each parameter's label, the first group of ``groups`` (label
    -> selector) that selects it, else ``default``. With ``default=None`` a parameter no
    group selects is a `ValueError` naming it."""
    tests = {label: selects(selector) for label, selector in groups.items()}

    def label_of(name, leaf):
        for label, test in tests.items():
            if test(name, leaf):
                return label
        if default is None:
            raise ValueError(
                f"parameter {name!r} is in no group ({', '.join(tests)}); add a group for "
                f"it, or a default"
            )
        return default

    return lambda params: map_named(label_of, params)


def param_groups(
    groups: Mapping[str, tuple[Selector, optax.GradientTransformation]],
    default: optax.GradientTransformation | None = None,
) -> optax.GradientTransformation:
    """One optimizer per group of parameters: ``groups`` maps a label to (selector,
    optimizer); the parameters no group selects get ``default`` (label "default"; without
    one, every parameter must be in a group). `lrjax.applied_lr` of the state is
    ``{label: rate}``.

    Example, a fine-tuning with a small rate for the backbone, a larger one for the new
    head, and no weight decay on biases and norms::

        opt = lrjax.param_groups(
            {
                "no_decay": (lambda name, p: p.ndim <= 1, lrjax.adam(3e-4)),
                "backbone": ("backbone/**", lrjax.adamw(1e-4, weight_decay=0.05)),
            },
            default=lrjax.adamw(1e-3, weight_decay=0.05),
        )
    """
    if not isinstance(groups, Mapping) or not groups:
        raise TypeError(
            f"groups must be a non-empty dict label -> (selector, optimizer), got {groups!r}"
        )
    transforms, selectors = {}, {}
    for label, group in groups.items():
        if not isinstance(label, str):
            raise TypeError(f"a group's label must be a string, got {label!r}")
        if not (isinstance(group, tuple) and len(group) == 2):
            raise TypeError(f"group {label!r} must be (selector, optimizer), got {group!r}")
        selectors[label], transforms[label] = selects(group[0]), group[1]
    if default is not None:
        if DEFAULT in groups:
            raise ValueError(
                f"a group is labelled {DEFAULT!r}, the label of the default; rename it"
            )
        transforms[DEFAULT] = default
    return optax.partition(transforms, labels(selectors, DEFAULT if default is not None else None))


def layer_index(name: str, depth: int) -> int:
    """timm's rule for a ViT-like model, by name: the embeddings (a part containing
    "embed", "cls_token" or "pos") are layer 0; a parameter under a numbered block is
    layer ``block + 1`` (the first integer in its name: ``blocks/3/...``,
    ``blocks_3/...``, ``layers.3``); everything else (the final norm, the head) is the top
    layer, ``depth``."""
    parts = re.split(r"[/.]", name)
    if any(p.startswith(("embed", "patch_embed", "cls_token", "pos")) for p in parts):
        return 0
    for part in parts:
        found = re.search(r"(\d+)$", part)
        if found:
            return min(int(found.group(1)) + 1, depth)
    return depth


@_checks.arguments(
    learning_rate=_checks.RATE, decay=_checks.real(0, 1, open_low=True), depth=_checks.integer(1)
)
def layer_decay(
    optimizer: Callable[[Any], optax.GradientTransformation],
    learning_rate: ArrayLike | S.Schedule,
    decay: ArrayLike,
    depth: int,
    layer: Callable[[str, int], int] = layer_index,
) -> optax.GradientTransformation:
    """Layer-wise rate decay (BEiT, ELECTRA, timm's ``layer_decay``): the parameters of
    layer ``l`` (``layer(name, depth)``, 0 for the embeddings to ``depth`` for the head;
    default `layer_index`) train with ``optimizer(learning_rate * decay ** (depth - l))``.
    ``learning_rate`` may be a schedule (each layer gets it scaled) and ``decay`` a traced
    value; ``depth`` is the number of layers above the embeddings (timm's ``layer_max``:
    blocks + 1). Groups are labelled ``layer_0`` ... ``layer_<depth>``.

    Example, AdamW with weight decay on matrices only, warmup then cosine, for a 12-block
    ViT::

        matrices = lambda p: jax.tree.map(lambda x: x.ndim > 1, p)
        rate = S.warmup(S.cosine_decay(1e-3, 9_000), 1_000)
        opt = lrjax.layer_decay(
            lambda lr: lrjax.adamw(lr, weight_decay=0.05, mask=matrices),
            rate, decay=0.65, depth=13,
        )
    """
    groups = {}
    for index in range(depth + 1):
        factor = decay ** (depth - index)
        if isinstance(learning_rate, S.Schedule):
            rate = S.scale(learning_rate, factor)
        else:
            rate = learning_rate * factor
        groups[f"layer_{index}"] = (_in_layer(layer, index, depth), optimizer(rate))
    return param_groups(groups)


def _in_layer(layer: Callable[[str, int], int], index: int, depth: int) -> Callable:
    def test(name: str, leaf: Any) -> bool:
        found = layer(name, depth)
        if isinstance(found, bool) or not isinstance(found, int) or not 0 <= found <= depth:
            raise ValueError(f"layer({name!r}) must be an integer in [0, {depth}], got {found!r}")
        return found == index

    return test
