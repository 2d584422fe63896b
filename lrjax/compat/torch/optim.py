"""PyTorch-exact optimizers: ``torch.optim`` constructors that return Optax transformations.

``Name(**kwargs)`` takes the torch optimizer's keyword arguments and defaults (without
``params``) and returns an `optax.GradientTransformation` whose parameter trajectory is
torch's: ``p ← optax.apply_updates(p, opt.update(g, state, p)[0])`` repeats
``p.grad = g; opt.step()``. ``lr`` may be a number or any schedule, the
``lrjax.compat.torch`` schedulers included, with update k using ``lr(k)`` as torch does
with ``scheduler.step()`` after each ``opt.step()``. ``momentum`` (SGD, RMSprop) and
``betas[0]`` (the Adam family) may be schedules too, such as ``OneCycleLR(...).momentum``.

``foreach``, ``fused``, ``capturable`` and ``differentiable`` pick torch's kernels, not its
arithmetic; they are accepted and ignored.

Validation is torch's own: each constructor accepts what the torch constructor accepts
(``SGD(momentum=1.5)``, ``Adadelta(rho=1.0)``, ``RMSprop(alpha=2.0)``) and refuses what it
refuses, with a `ValueError` whose message starts with torch's phrase (``Invalid momentum
value: -0.5``) and then names the argument and its range. Two additions, so that nothing
turns silently into NaN: non-finite values are refused too (torch accepts ``lr=nan`` in
SGD), and so is a learning rate of more than one element (torch: "Tensor lr must be
1-element"); a one-element array is used as a scalar, as torch does.

Torch's step semantics, for every constructor:

* a complex parameter is optimized as its real view (``torch.view_as_real``: the real
  and imaginary parts as separate coordinates), so Adam's second moment holds re(g)² and
  im(g)² separately (the native `lrjax.adam` uses |g|², as optax);
* an update in which every gradient is None (``p.grad is None`` for all parameters) is a
  no-op, as torch's ``step()``: moments and step counts stay, so later bias corrections
  and AdaGrad's ``lr_decay`` match torch, while the learning-rate schedule moves on as
  torch's scheduler does when stepped. A None gradient for only some parameters leaves
  those parameters and their moments alone, but the shared step count still advances
  (torch keeps one count per parameter); that case differs from torch.

Where torch's defaults differ from lrjax's native ones, the native constructors document
it; these constructors always use torch's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _checks, transforms
from lrjax.transforms.base import Hyper, ScaleByLearningRateState, is_zero

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
]

_KERNEL_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})


def _rule(name: str, x: Hyper, ok: Callable, phrase: str, allowed: str) -> None:
    """torch's check of one argument, with torch's message phrase first (code that matches
    on it keeps working), then lrjax's naming of the argument and its range. Schedules
    and traced values are not checked; non-finite values are refused."""
    if callable(x):
        return
    value = _checks.concrete(x)
    if value is not None and not (np.all(np.isfinite(value)) and np.all(ok(value))):
        raise ValueError(f"{phrase}: {x} ({name} must be {allowed}, got {_checks.show(x)})")


def _nonnegative(name: str, x: Hyper, phrase: str) -> None:
    _rule(name, x, lambda v: v >= 0, phrase, "a finite number >= 0")


def _lr(lr: Hyper) -> Hyper:
    """torch's learning-rate checks; a one-element array becomes a scalar."""
    if not callable(lr) and np.size(lr) != 1:
        raise ValueError(
            f"Tensor lr must be 1-element (lr must be a scalar, got shape {np.shape(lr)})"
        )
    if not callable(lr) and np.ndim(lr) > 0:
        lr = jnp.reshape(lr, ())
    _nonnegative("lr", lr, "Invalid learning rate")
    return lr


def _betas(betas: Sequence[Hyper]) -> tuple:
    b1, b2 = _checks.pair("betas", betas)
    for i, b in enumerate((b1, b2)):
        _rule(
            f"betas[{i}]",
            b,
            lambda v: (v >= 0) & (v < 1),
            f"Invalid beta parameter at index {i}",
            "in [0, 1)",
        )
    return b1, b2


def _real_view(tree: optax.Updates) -> optax.Updates:
    """Complex leaves as real arrays with a trailing axis of 2, (re, im): torch's
    ``view_as_real``. Real and None leaves pass through."""

    def view(x):
        return jnp.stack([x.real, x.imag], axis=-1) if jnp.iscomplexobj(x) else x

    return jax.tree.map(view, tree)


def _complex_again(updates: optax.Updates, like: optax.Updates) -> optax.Updates:
    """Undo `_real_view` on the leaves that are complex in `like`."""

    def back(u, g):
        if g is None or not jnp.iscomplexobj(g):
            return u
        return jax.lax.complex(u[..., 0], u[..., 1]).astype(g.dtype)

    return jax.tree.map(back, updates, like, is_leaf=lambda x: x is None)


def _schedule_moves_on(state: optax.OptState) -> optax.OptState:
    """The state after a step with no gradient at all: only the learning-rate counts
    advance (torch's scheduler is stepped; the optimizer's step() did nothing)."""

    def advance(s):
        if isinstance(s, ScaleByLearningRateState):
            return s._replace(count=optax.safe_increment(s.count))
        return s

    is_rate = lambda x: isinstance(x, ScaleByLearningRateState)  # noqa: E731
    return jax.tree.map(advance, state, is_leaf=is_rate)


def _finish(opt: optax.GradientTransformation, maximize: bool, flags: dict):
    """Wrap a native optimizer in torch's step semantics (see the module docstring)."""
    unknown = set(flags) - _KERNEL_FLAGS
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    inner = optax.chain(optax.scale(-1.0), opt) if maximize else opt

    def init(params):
        return inner.init(_real_view(params))

    def update(updates, state, params=None):
        if not jax.tree.leaves(updates):  # every gradient is None: torch's step() is a no-op
            return updates, _schedule_moves_on(state)
        out, state = inner.update(_real_view(updates), state, _real_view(params))
        return _complex_again(out, updates), state

    return optax.GradientTransformation(init, update)


def SGD(
    lr: Hyper = 1e-3,
    momentum: Hyper = 0,
    dampening: Hyper = 0,
    weight_decay: Hyper = 0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.SGD``: momentum buffer b_1 = g (dampening skipped on the first step),
    then b ← μ b + (1 - dampening) g; coupled weight decay. See `lrjax.sgd`.

    Checks, as torch: lr >= 0, momentum >= 0 (1 and above accepted), weight_decay >= 0,
    Nesterov needs momentum > 0 and dampening 0; dampening is not checked."""
    lr = _lr(lr)
    _nonnegative("momentum", momentum, "Invalid momentum value")
    _nonnegative("weight_decay", weight_decay, "Invalid weight_decay value")
    _rule("dampening", dampening, lambda v: True, "Invalid dampening value", "finite")
    if nesterov:
        mu, d = _checks.concrete(momentum), _checks.concrete(dampening)
        if (mu is not None and mu <= 0) or (d is not None and d != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening "
                f"(got momentum={momentum!r} and dampening={dampening!r})"
            )
    with _checks.peer_rules():
        opt = transforms.sgd(
            lr,
            None if is_zero(momentum) else momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adagrad(
    lr: Hyper = 1e-2,
    lr_decay: Hyper = 0,
    weight_decay: Hyper = 0,
    initial_accumulator_value: Hyper = 0,
    eps: Hyper = 1e-10,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adagrad``: rate lr / (1 + (t - 1) lr_decay), eps outside the root.

    Checks, as torch: lr, lr_decay, weight_decay, initial_accumulator_value, eps >= 0."""
    lr = _lr(lr)
    _nonnegative("lr_decay", lr_decay, "Invalid lr_decay value")
    _nonnegative("weight_decay", weight_decay, "Invalid weight_decay value")
    _nonnegative(
        "initial_accumulator_value",
        initial_accumulator_value,
        "Invalid initial_accumulator_value value",
    )
    _nonnegative("eps", eps, "Invalid epsilon value")
    with _checks.peer_rules():
        opt = transforms.adagrad(
            lr,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adadelta(
    lr: Hyper = 1.0,
    rho: Hyper = 0.9,
    eps: Hyper = 1e-6,
    weight_decay: Hyper = 0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adadelta``: eps inside both square roots, coupled weight decay.

    Checks, as torch: lr >= 0, rho in [0, 1] (1 accepted), eps >= 0, weight_decay >= 0."""
    lr = _lr(lr)
    _rule("rho", rho, lambda v: (v >= 0) & (v <= 1), "Invalid rho value", "in [0, 1]")
    _nonnegative("eps", eps, "Invalid epsilon value")
    _nonnegative("weight_decay", weight_decay, "Invalid weight_decay value")
    with _checks.peer_rules():
        opt = transforms.adadelta(lr, rho=rho, eps=eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)


def RMSprop(
    lr: Hyper = 1e-2,
    alpha: Hyper = 0.99,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    momentum: Hyper = 0,
    centered: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.RMSprop``: eps outside the root, momentum buffer of unscaled steps.

    Checks, as torch: lr, eps, momentum, weight_decay, alpha >= 0 (alpha above 1 accepted)."""
    lr = _lr(lr)
    _nonnegative("eps", eps, "Invalid epsilon value")
    _nonnegative("momentum", momentum, "Invalid momentum value")
    _nonnegative("weight_decay", weight_decay, "Invalid weight_decay value")
    _nonnegative("alpha", alpha, "Invalid alpha value")
    with _checks.peer_rules():
        opt = transforms.rmsprop(
            lr,
            decay=alpha,
            eps=eps,
            centered=centered,
            momentum=None if is_zero(momentum) else momentum,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


def _adam_checks(lr: Hyper, betas: Sequence[Hyper], eps: Hyper, weight_decay: Hyper) -> tuple:
    """The checks torch's Adam, AdamW, NAdam, RAdam and Adamax share: lr, eps and
    weight_decay >= 0, each beta in [0, 1)."""
    lr = _lr(lr)
    _nonnegative("eps", eps, "Invalid epsilon value")
    b1, b2 = _betas(betas)
    _nonnegative("weight_decay", weight_decay, "Invalid weight_decay value")
    return lr, b1, b2


def Adam(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adam``: L2 weight decay unless decoupled; AMSGrad on the raw v."""
    lr, b1, b2 = _adam_checks(lr, betas, eps, weight_decay)
    with _checks.peer_rules():
        opt = transforms.adam(
            lr,
            b1,
            b2,
            eps,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def AdamW(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""
    return Adam(
        lr,
        betas,
        eps,
        weight_decay,
        amsgrad,
        maximize=maximize,
        decoupled_weight_decay=True,
        **flags,
    )


def NAdam(
    lr: Hyper = 2e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    momentum_decay: Hyper = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.NAdam``: Dozat's momentum schedule μ_t = β1 (1 - 0.96^(t ψ) / 2)."""
    lr, b1, b2 = _adam_checks(lr, betas, eps, weight_decay)
    _nonnegative("momentum_decay", momentum_decay, "Invalid momentum_decay value")
    with _checks.peer_rules():
        opt = transforms.nadam(
            lr,
            b1,
            b2,
            eps,
            momentum_decay=momentum_decay,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def RAdam(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.RAdam``: rectified when ρ_t > 5, eps on the uncorrected sqrt(v)."""
    lr, b1, b2 = _adam_checks(lr, betas, eps, weight_decay)
    with _checks.peer_rules():
        opt = transforms.radam(
            lr,
            b1,
            b2,
            eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
        )
    return _finish(opt, maximize, flags)


def Adamax(
    lr: Hyper = 2e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adamax``: u ← max(β2 u, |g| + eps); only m is bias-corrected."""
    lr, b1, b2 = _adam_checks(lr, betas, eps, weight_decay)
    with _checks.peer_rules():
        opt = transforms.adamax(lr, b1, b2, eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)
