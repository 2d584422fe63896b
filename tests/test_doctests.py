"""Every ``Examples:`` block in lrjax's docstrings runs as a doctest."""

import doctest
import importlib
import pkgutil

import pytest

import lrjax

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(lrjax.__path__, "lrjax.") if m.name != "lrjax.__main__"
)


def test_there_are_examples():
    finder = doctest.DocTestFinder()
    count = sum(
        len(t.examples)
        for name in MODULES
        for t in finder.find(importlib.import_module(name), name)
    )
    assert count >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
