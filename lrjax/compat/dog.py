"""The dog-optimizer package (formll/dog 1.0.3) as optax transformations: ``DoG`` and
``LDoG`` with its arguments and defaults. Its ``PolynomialDecayAverager(model, gamma=8)``
is `lrjax.adaptive.polynomial_average` (wrap the optimizer, then read
`lrjax.adaptive.averaged_params`)."""

from __future__ import annotations

import optax
from jax.typing import ArrayLike

from lrjax import _checks
from lrjax.adaptive.dog import dog, polynomial_average
from lrjax.transforms.base import Hyper

__all__ = ["DoG", "LDoG", "PolynomialDecayAverager"]

# dog's checks (lr > 0, reps_rel > 0, init_eta > 0, weight_decay >= 0) and the native
# eps > 0, under dog's names.
_DOG = dict(
    reps_rel=_checks.POSITIVE,
    lr=_checks.real(0, open_low=True, schedule=True),
    weight_decay=_checks.NONNEGATIVE,
    eps=_checks.POSITIVE,
    init_eta=_checks.real(0, open_low=True, optional=True),
)


@_checks.arguments(**_DOG)
def DoG(
    reps_rel: ArrayLike = 1e-6,
    lr: Hyper = 1.0,
    weight_decay: ArrayLike = 0.0,
    eps: ArrayLike = 1e-8,
    init_eta: ArrayLike | None = None,
) -> optax.GradientTransformation:
    """``dog.DoG``: see `lrjax.adaptive.dog`."""
    with _checks.renamed(learning_rate="lr"):
        return dog(lr, reps_rel, eps, weight_decay=weight_decay, init_eta=init_eta)


@_checks.arguments(**_DOG)
def LDoG(
    reps_rel: ArrayLike = 1e-6,
    lr: Hyper = 1.0,
    weight_decay: ArrayLike = 0.0,
    eps: ArrayLike = 1e-8,
    init_eta: ArrayLike | None = None,
) -> optax.GradientTransformation:
    """``dog.LDoG``: DoG per parameter leaf."""
    with _checks.renamed(learning_rate="lr"):
        return dog(lr, reps_rel, eps, weight_decay=weight_decay, init_eta=init_eta, layerwise=True)


@_checks.arguments(gamma=_checks.NONNEGATIVE)
def PolynomialDecayAverager(
    optimizer: optax.GradientTransformation, gamma: ArrayLike = 8
) -> optax.GradientTransformation:
    """``dog.PolynomialDecayAverager`` stepped after every update of `optimizer`."""
    return polynomial_average(optimizer, gamma)
