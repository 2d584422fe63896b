"""A griffe extension for the API pages (``mkdocs.yml`` loads it). Static analysis of
lrjax needs two corrections to show what Python sees:

* Schedules and controllers subclass ``lrjax._pytree.Pytree``, which makes every subclass
  a frozen dataclass in ``__init_subclass__``; griffe sees no ``@dataclass``, so it would
  show them without a signature. Build their ``__init__`` from the annotated fields
  (``static(default)`` fields and ``InitVar`` arguments included), as dataclasses does.
* The docstrings write indexing as plain text (``schedules[i](k)``, ``parents[r][i]``),
  which Markdown reads as links. Outside code spans and indented code blocks, escape the
  bracket that follows a closing one, so the text renders as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

PYTREE = "lrjax._pytree.Pytree"
_LINK_LIKE = re.compile(r"\](?=[(\[])")
_CODE_SPAN = re.compile(r"(`+).*?\1")


def escape_indexing(text: str) -> str:
    """``a[i](k)`` -> ``a[i]\\(k)`` outside code; code is left as it is."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("    "):
            parts, last = [], 0
            for span in _CODE_SPAN.finditer(line):
                parts += [_LINK_LIKE.sub(r"]\\", line[last : span.start()]), span.group(0)]
                last = span.end()
            line = "".join([*parts, _LINK_LIKE.sub(r"]\\", line[last:])])
        lines.append(line)
    return "\n".join(lines)


def _default(value: Any) -> Any:
    """The default of a field: ``static(x)``/``field(default=x)`` give x, no value none."""
    if isinstance(value, griffe.ExprCall) and str(value.function).split(".")[-1] in (
        "static",
        "field",
    ):
        for arg in value.arguments:
            if isinstance(arg, griffe.ExprKeyword):
                if arg.name == "default":
                    return arg.value
            else:
                return arg
        return None
    return value


class LrjaxDocs(griffe.Extension):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[griffe.Parameter]] = {}

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape_indexing(obj.docstring.value)

    def on_class_members(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        # Recorded before griffe's dataclasses extension deletes the InitVar attributes.
        fields = []
        for member in cls.members.values():
            if not member.is_attribute or member.is_alias or member.annotation is None:
                continue
            if "property" in member.labels or member.name.startswith("_"):
                continue
            fields.append(
                griffe.Parameter(
                    member.name,
                    annotation=member.annotation,
                    kind=griffe.ParameterKind.positional_or_keyword,
                    default=_default(member.value),
                    docstring=member.docstring,
                )
            )
        self.fields[cls.path] = fields

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._visit(pkg, set())

    def _visit(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        for member in list(obj.members.values()):
            if member.is_alias:
                continue
            if member.is_class:
                self._set_init(member)
            if member.is_module or member.is_class:
                self._visit(member, seen)

    def _set_init(self, cls: griffe.Class) -> None:
        if "__init__" in cls.members:
            return
        try:
            mro = [cls, *cls.mro()]
        except (ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return
        if PYTREE not in (c.path for c in mro):
            return
        params: dict[str, griffe.Parameter] = {}
        for c in reversed(mro):
            for p in self.fields.get(c.path, []):
                params[p.name] = p  # a redefinition keeps the first position, as dataclasses
        init = griffe.Function(
            "__init__",
            lineno=cls.lineno,
            endlineno=cls.lineno,
            parent=cls,
            parameters=griffe.Parameters(
                griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword),
                *params.values(),
            ),
            returns="None",
        )
        cls.set_member("__init__", init)
