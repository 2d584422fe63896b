"""torch's own error messages in front of the declared checks (`lrjax._checks.arguments`).

Code written against torch matches on its messages (``Invalid learning rate: -0.1``,
``lr_lambda should be a function``); the compat constructors keep them as the start of
the message and add lrjax's naming of the argument and its range after it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from lrjax import _checks

# name, value, error -> the message to raise instead, or None to keep the error as it is
Phrase = Callable[[str, Any, Exception], "str | None"]


def phrased(phrase: Phrase) -> Callable:
    """Decorate a constructor that `_checks.arguments` declares (that decorator goes
    below this one): each declared argument is checked as the declaration says, and a
    refusal raises the same error type with the message ``phrase(name, value, error)``.
    The declaration (``__lrjax_args__``) stays visible on the decorated constructor."""

    def decorate(checked: Callable) -> Callable:
        declared = checked.__lrjax_args__
        signature = inspect.signature(checked)

        @functools.wraps(checked)
        def call(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return checked(*args, **kwargs)  # the constructor says what is wrong
            for name, value in bound.arguments.items():
                if name not in declared:
                    continue
                try:
                    _checks.validate(name, value, declared[name])
                except (TypeError, ValueError) as error:
                    message = phrase(name, value, error)
                    if message is None:
                        raise
                    raise type(error)(message) from None
            return checked(*args, **kwargs)

        return call

    return decorate
