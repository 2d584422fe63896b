"""Peer-exact constructors: the same numbers as PyTorch, Keras and timm.

``lrjax.compat.torch``, ``lrjax.compat.keras`` and ``lrjax.compat.timm`` are thin: each
constructor builds ordinary lrjax schedules, so it is exactly as traceable as they are.
"""

from lrjax.compat import (
    dadaptation,
    dog,
    hypergrad,
    keras,
    mechanic,
    prodigyopt,
    schedulefree,
    timm,
    torch,
)

__all__ = [
    "dadaptation",
    "dog",
    "hypergrad",
    "keras",
    "mechanic",
    "prodigyopt",
    "schedulefree",
    "timm",
    "torch",
]
