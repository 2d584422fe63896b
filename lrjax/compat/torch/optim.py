"""PyTorch-exact optimizers: ``torch.optim`` constructors that return Optax transformations.

``Name(**kwargs)`` takes the torch optimizer's keyword arguments and defaults (without
``params``; or torch's list of parameter groups first, with name selectors in place of
tensors: `lrjax.compat.torch.param_groups`) and returns an
`optax.GradientTransformation` whose parameter trajectory is torch's:
``p ← optax.apply_updates(p, opt.update(g, state, p)[0])`` repeats
``p.grad = g; opt.step()``. ``lr`` may be a number or any schedule, the
``lrjax.compat.torch`` schedulers included, with update k using ``lr(k)`` as torch does
with ``scheduler.step()`` after each ``opt.step()``. ``momentum`` (SGD, RMSprop) and
``betas[0]`` (the Adam family) may be schedules too, such as ``OneCycleLR(...).momentum``.

``foreach``, ``fused``, ``capturable`` and ``differentiable`` pick torch's kernels, not its
arithmetic; they are accepted and ignored.

Validation is torch's own: each constructor accepts what the torch constructor accepts
(``SGD(momentum=1.5)``, ``Adadelta(rho=1.0)``, ``RMSprop(alpha=2.0)``) and refuses what it
refuses, with a `ValueError` whose message starts with torch's phrase (``Invalid momentum
value: -0.5``) and then names the argument and its range. Three additions, so that nothing
turns silently into NaN: non-finite values are refused too (torch accepts ``lr=nan`` in
SGD), so is a learning rate of more than one element in every constructor (torch:
"Tensor lr must be 1-element"), and a bool or string, betas entries included, is a
`TypeError` naming the argument (torch takes ``betas=(True, True)`` as 1.0). The
declaration of each constructor's arguments is `lrjax._checks.arguments`'.

Torch's step semantics, for every constructor:

* a one-element array ``lr`` or ``betas[i]`` (shape ``(1,)``, ``(1, 1, 1)``, ...) is used
  as a scalar, as torch's ``_to_scalar`` does; Adam and AdamW also take torch's rules that
  the betas are both floats or both arrays (a schedule counts as a float: torch's
  schedulers write floats into ``betas``) and that an array beta has one element;
* a complex parameter is optimized as its real view (``torch.view_as_real``: the real
  and imaginary parts as separate coordinates), so Adam's second moment holds re(g)² and
  im(g)² separately (the native `lrjax.adam` uses |g|², as optax);
* each parameter (each leaf of the params tree) has its own state, as torch's
  ``optimizer.state[p]``: a None gradient leaves that parameter, its moments and its step
  count alone (torch skips a parameter whose ``p.grad`` is None), so its later bias
  corrections, AdaGrad ``lr_decay`` factor, NAdam momentum product and first SGD momentum
  step follow its own count of steps, as torch's. The hyperparameter schedules (``lr``,
  a scheduled weight decay) are the group's: they move on at every update, also for a
  skipped parameter and in an update where every gradient is None (a no-op, as torch's
  ``step()``), as torch's scheduler does when stepped. One difference is left: a
  scheduled ``momentum`` or ``betas[0]`` is read at the parameter's own count, so after a
  parameter skipped updates it lags the group's cycle, which torch's scheduler does not.

Where torch's defaults differ from lrjax's native ones, the native constructors document
it; these constructors always use torch's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrjax import _checks, transforms
from lrjax.compat.torch.param_groups import accepts_groups
from lrjax.transforms.base import (
    Hyper,
    ScaleByLearningRateState,
    ScaleByScheduleCount,
    check_structure,
    is_zero,
)
from lrjax.transforms.factored import torch_adafactor

__all__ = [
    "SGD",
    "ASGD",
    "Rprop",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Adafactor",
    "SparseAdam",
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


# torch's phrase for each argument it checks: the start of the message for a refused value
_INVALID = {
    "lr": "Invalid learning rate",
    "momentum": "Invalid momentum value",
    "dampening": "Invalid dampening value",
    "weight_decay": "Invalid weight_decay value",
    "lr_decay": "Invalid lr_decay value",
    "initial_accumulator_value": "Invalid initial_accumulator_value value",
    "eps": "Invalid epsilon value",
    "rho": "Invalid rho value",
    "alpha": "Invalid alpha value",
    "momentum_decay": "Invalid momentum_decay value",
}


def _torch_message(name: str, value: Any, error: Exception) -> str | None:
    """A declared check's refusal with torch's phrase first: ``Invalid learning rate: -0.1
    (lr must be a finite number >= 0, got -0.1)``, ``Tensor lr must be 1-element (...)``.
    A value of the wrong kind (a bool, a string: torch takes True as 1) keeps lrjax's
    `TypeError` as it is."""
    if isinstance(error, TypeError):
        return None
    if " must be a scalar" in str(error):
        return f"Tensor {name} must be 1-element ({error})"
    if name not in _INVALID:  # an argument torch does not check (ASGD's lambd, t0)
        return None
    return f"{_INVALID[name]}: {value} ({error})"


# Every torch argument may be a schedule (``lr``, ``momentum``, a scheduled weight decay).
_LR = _checks.real(0, schedule=True, shape="one")  # torch's _to_scalar: one element
_NONNEGATIVE = _checks.real(0, schedule=True)


def _to_scalar(x: Hyper) -> Hyper:
    """torch's ``_to_scalar``: a one-element array of any shape as a 0-d array. Without
    it a beta of shape (1, 1, 1) would broadcast every moment, and so the update and the
    state, to three dimensions (a scan over the steps then fails on the carry's shape)."""
    if not callable(x) and np.ndim(x) > 0 and np.size(x) == 1:
        return jnp.reshape(x, ())
    return x


def _betas(betas: Sequence[Hyper]) -> tuple:
    """torch's range checks of the betas (a pair: the declared layer checks single
    values); one-element arrays become scalars, as torch's Adam does (the other
    constructors' torch steps broadcast them to the same values). An entry that is not a
    number or a schedule (a bool: torch takes True as 1.0) is a `TypeError`."""
    b1, b2 = _checks.pair("betas", betas)
    for i, b in enumerate((b1, b2)):
        if not callable(b):
            _checks.numeric(f"betas[{i}]", b)
        _rule(
            f"betas[{i}]",
            b,
            lambda v: (v >= 0) & (v < 1),
            f"Invalid beta parameter at index {i}",
            "in [0, 1)",
        )
    return _to_scalar(b1), _to_scalar(b2)


def _kind(b: Hyper) -> str | None:
    """A beta as torch's Adam classifies it: "float" (a Python float, or a schedule, whose
    values torch's schedulers write into ``betas`` as floats), "tensor" (an array, traced
    ones included) or neither (an int, a bool)."""
    if callable(b) or isinstance(b, float):
        return "float"
    if isinstance(b, (jax.Array, np.ndarray, np.generic)):
        return "tensor"
    return None


def _adam_tensor_rules(betas: Sequence[Hyper]) -> None:
    """The two rules of torch's Adam (and so AdamW) on array betas, after its range
    checks; NAdam, RAdam and Adamax do not have them."""
    kinds = [_kind(b) for b in betas]
    if len(set(kinds)) != 1 or None in kinds:
        got = " and ".join(
            {"float": "float", "tensor": "array"}.get(k, type(b).__name__)
            for k, b in zip(kinds, betas, strict=True)
        )
        raise ValueError(
            "betas must be either both floats or both Tensors (betas must be two Python "
            f"floats or schedules, or two arrays; got {got})"
        )
    for i, b in enumerate(betas):
        if _kind(b) == "tensor" and np.size(b) != 1:
            raise ValueError(
                f"Tensor betas[{i}] must be 1-element (betas[{i}] must be a scalar, "
                f"got shape {np.shape(b)})"
            )


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


# The counts of the group's hyperparameter schedules (torch's scheduler steps them for the
# whole group), as opposed to the per-parameter step counts of the scalings.
_SCHEDULE_STATES = (ScaleByLearningRateState, ScaleByScheduleCount)


def _is_schedule(x: Any) -> bool:
    return isinstance(x, _SCHEDULE_STATES)


def _is_none(x: Any) -> bool:
    return x is None


def _schedules_move_on(state: optax.OptState, fresh: optax.OptState | None) -> optax.OptState:
    """A skipped parameter's state after an update: its moments and step counts stay, its
    schedule states become `fresh`'s (those of a parameter that was updated in the same
    step: the same schedules at the same count), or, when no parameter was updated, only
    their counts advance (torch's scheduler was stepped; its step() did nothing)."""
    leaves, treedef = jax.tree.flatten(state, is_leaf=_is_schedule)
    if fresh is None:
        new = [
            x._replace(count=optax.safe_increment(x.count)) if _is_schedule(x) else x
            for x in leaves
        ]
    else:
        done = iter([x for x in jax.tree.leaves(fresh, is_leaf=_is_schedule) if _is_schedule(x)])
        new = [next(done) if _is_schedule(x) else x for x in leaves]
    return jax.tree.unflatten(treedef, new)


class ParamState(NamedTuple):
    """The native optimizer's state for one parameter (torch's ``optimizer.state[p]``)."""

    inner: optax.OptState


def _is_param(x: Any) -> bool:
    return x is None or isinstance(x, ParamState)


class TorchOptimizerState(NamedTuple):
    """The state of a `lrjax.compat.torch` optimizer: the params tree with each param
    replaced by its `ParamState` (None for a None param), as torch keeps a state with its
    own ``step`` per parameter. Keeping the tree lets `update` check the gradients'
    structure against it when the params are not passed."""

    per_param: Any

    def applied_lr(self) -> jax.Array | None:
        """The group's rate at the last update (every parameter's schedule states are the
        group's), times the first parameter's AdaGrad ``lr_decay`` factor where there is
        one; None for a tree without parameters."""
        for s in jax.tree.leaves(self.per_param, is_leaf=_is_param):
            if s is not None:
                return transforms.applied_lr(s.inner)
        return None


def _finish(opt: optax.GradientTransformation, maximize: bool, flags: dict):
    """Wrap a native optimizer in torch's step semantics (see the module docstring): the
    native optimizer runs on each parameter alone, so that a parameter without a gradient
    keeps its step count while the others advance theirs."""
    unknown = set(flags) - _KERNEL_FLAGS
    if unknown:
        raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
    inner = optax.chain(optax.scale(-1.0), opt) if maximize else opt

    def init(params):
        def one(p):
            return None if p is None else ParamState(inner.init(_real_view(p)))

        return TorchOptimizerState(jax.tree.map(one, params, is_leaf=_is_none))

    def update(updates, state, params=None):
        if params is not None:
            check_structure(updates, params, "params")
        # the state's tree down to the ParamStates is the params' (None leaves included)
        reference = jax.tree.map(lambda _: 0, state.per_param, is_leaf=_is_param)
        check_structure(updates, reference, "optimizer state (built from the params)")
        grads, treedef = jax.tree.flatten(updates, is_leaf=_is_none)
        olds = jax.tree.leaves(state.per_param, is_leaf=_is_param)
        ps = [None] * len(grads) if params is None else jax.tree.leaves(params, is_leaf=_is_none)
        outs, states = [], []
        for g, s, p in zip(grads, olds, ps, strict=True):
            if g is None:  # torch skips a param whose grad is None
                outs.append(None)
                states.append(s)
                continue
            if s is None:
                raise ValueError("a gradient for a param that was None when init was called")
            out, new = inner.update(_real_view(g), s.inner, _real_view(p))
            outs.append(_complex_again(out, g))
            states.append(ParamState(new))
        fresh = next((s.inner for g, s in zip(grads, states, strict=True) if g is not None), None)
        states = [
            ParamState(_schedules_move_on(s.inner, fresh)) if g is None and s is not None else s
            for g, s in zip(grads, states, strict=True)
        ]
        return jax.tree.unflatten(treedef, outs), TorchOptimizerState(
            jax.tree.unflatten(treedef, states)
        )

    return optax.GradientTransformation(init, update)


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_LR,
    momentum=_NONNEGATIVE,
    dampening=_checks.real(schedule=True),
    weight_decay=_NONNEGATIVE,
)
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
    Nesterov needs momentum > 0 and dampening 0; dampening is only required finite."""
    lr = _to_scalar(lr)
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


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_LR,
    lr_decay=_NONNEGATIVE,
    weight_decay=_NONNEGATIVE,
    initial_accumulator_value=_NONNEGATIVE,
    eps=_NONNEGATIVE,
)
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
    lr = _to_scalar(lr)
    with _checks.peer_rules():
        opt = transforms.adagrad(
            lr,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
        )
    return _finish(opt, maximize, flags)


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_LR,
    rho=_checks.real(0, 1, schedule=True),
    eps=_NONNEGATIVE,
    weight_decay=_NONNEGATIVE,
)
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
    lr = _to_scalar(lr)
    with _checks.peer_rules():
        opt = transforms.adadelta(lr, rho=rho, eps=eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_LR,
    alpha=_NONNEGATIVE,
    eps=_NONNEGATIVE,
    weight_decay=_NONNEGATIVE,
    momentum=_NONNEGATIVE,
)
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
    lr = _to_scalar(lr)
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


def _adam_checks(lr: Hyper, betas: Sequence[Hyper]) -> tuple:
    """What torch's Adam, AdamW, NAdam, RAdam and Adamax share beyond their declared
    arguments (lr, eps and weight_decay >= 0): each beta in [0, 1)."""
    b1, b2 = _betas(betas)
    return _to_scalar(lr), b1, b2


# The arguments the Adam family declares in common.
_ADAM_ARGS = dict(lr=_LR, eps=_NONNEGATIVE, weight_decay=_NONNEGATIVE)


@accepts_groups
@_checks.arguments(_torch_message, **_ADAM_ARGS)
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
    lr, b1, b2 = _adam_checks(lr, betas)
    _adam_tensor_rules(betas)
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


@accepts_groups
@_checks.arguments(_torch_message, **_ADAM_ARGS)
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


@accepts_groups
@_checks.arguments(_torch_message, **_ADAM_ARGS, momentum_decay=_NONNEGATIVE)
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
    lr, b1, b2 = _adam_checks(lr, betas)
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


@accepts_groups
@_checks.arguments(_torch_message, **_ADAM_ARGS)
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
    lr, b1, b2 = _adam_checks(lr, betas)
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


@accepts_groups
@_checks.arguments(_torch_message, **_ADAM_ARGS)
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
    lr, b1, b2 = _adam_checks(lr, betas)
    with _checks.peer_rules():
        opt = transforms.adamax(lr, b1, b2, eps, weight_decay=weight_decay)
    return _finish(opt, maximize, flags)


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_checks.real(0, open_low=True, schedule=True, shape="one"),
    eps=_checks.real(0, open_low=True, schedule=True),
)
def SparseAdam(
    lr: Hyper = 1e-3,
    betas: Sequence[Hyper] = (0.9, 0.999),
    eps: Hyper = 1e-8,
    maximize: bool = False,
) -> optax.GradientTransformation:
    """``torch.optim.SparseAdam``: `lrjax.transforms.lazy_adam` (eps on the uncorrected
    root, the global step count in the bias corrections) with every parameter a table
    whose rows (slices along axis 0) move only when their gradient is non-zero, as the
    rows of ``nn.Embedding(sparse=True)``'s gradient. JAX gradients are dense: a row
    whose gradient is exactly zero counts as absent (torch counts a row present when the
    sparse gradient lists it, even with zero values; see `lrjax.transforms.lazy`).

    Checks, as torch: lr > 0, eps > 0, betas in [0, 1); complex params are refused.
    torch's SparseAdam has no kernel choices, so ``foreach`` and ``fused`` are refused
    as unknown keywords, as torch refuses them."""
    lr, b1, b2 = _adam_checks(lr, betas)
    with _checks.peer_rules():
        opt = transforms.lazy_adam(lr, b1, b2, eps, tables=True)
    finished = _finish(opt, maximize, {})

    def init(params):
        if any(jnp.iscomplexobj(p) for p in jax.tree.leaves(params)):
            raise ValueError("SparseAdam does not support complex parameters (as torch)")
        return finished.init(params)

    return optax.GradientTransformation(init, finished.update)


def _positive_pair(name: str, pair: Sequence[Hyper]) -> tuple:
    """Two finite numbers (a bool or a string is a `TypeError` naming the entry)."""
    first, second = _checks.pair(name, pair)
    for i, v in enumerate((first, second)):
        _checks.numeric(f"{name}[{i}]", v)
        _checks.finite(f"{name}[{i}]", v)
    return _to_scalar(first), _to_scalar(second)


@accepts_groups
@_checks.arguments(_torch_message, lr=_checks.real(0, shape="one"))
def Rprop(
    lr: Hyper = 1e-2,
    etas: Sequence[Hyper] = (0.5, 1.2),
    step_sizes: Sequence[Hyper] = (1e-6, 50),
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Rprop``: `lrjax.transforms.rprop` with ``etas = (eta_minus,
    eta_plus)`` and ``step_sizes = (min, max)``; ``lr`` is the initial step size only,
    so torch's schedulers do not move it (it must be a number here). torch's rule:
    ``0 < etas[0] < 1 < etas[1]``."""
    eta_minus, eta_plus = _positive_pair("etas", etas)
    low, high = _positive_pair("step_sizes", step_sizes)
    if not 0.0 < eta_minus < 1.0 < eta_plus:
        raise ValueError(
            f"Invalid eta values: {eta_minus}, {eta_plus}: etas must satisfy "
            f"0 < etas[0] < 1 < etas[1]"
        )
    if not 0.0 <= low <= high:
        raise ValueError(
            f"step_sizes must satisfy 0 <= step_sizes[0] <= step_sizes[1], got ({low}, {high})"
        )
    if callable(lr):
        raise TypeError("lr of Rprop is its initial step size: a number, not a schedule")
    with _checks.peer_rules():
        opt = transforms.rprop(_to_scalar(lr), eta_minus, eta_plus, low, high)
    return _finish(opt, maximize, flags)


@accepts_groups
@_checks.arguments(
    _torch_message,
    lr=_checks.real(0, schedule=True, shape="one"),
    lambd=_checks.real(0),
    alpha=_checks.real(0),
    t0=_checks.real(0),
    weight_decay=_checks.real(0),
)
def ASGD(
    lr: Hyper = 1e-2,
    lambd: Hyper = 1e-4,
    alpha: Hyper = 0.75,
    t0: Hyper = 1e6,
    weight_decay: Hyper = 0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.ASGD``: `lrjax.transforms.asgd` (the rate η decays as
    ``lr / (1 + lambd lr t)^alpha``, read from the group's current ``lr``, so a scheduler
    moves it; ``ax`` averages the iterates after ``t0`` updates; `asgd_average` reads
    it). `lrjax.applied_lr` reports η, the rate the update used."""
    with _checks.peer_rules():
        opt = transforms.asgd(
            lr if callable(lr) else _to_scalar(lr), lambd, alpha, t0, weight_decay
        )
    return _finish(opt, maximize, flags)


# torch's phrases for Adafactor's checks (its own wording, not the "Invalid ..." of the others)
_ADAFACTOR_PHRASES = {
    "lr": "Learning rate should be >= 0 but is",
    "beta2_decay": "beta2_decay should be <= 0 but is",
    "d": "Clipping threshold d should be >= 1 but is",
    "weight_decay": "weight_decay should be >= 0 but is",
}


def _adafactor_message(name: str, value: Any, error: Exception) -> str | None:
    if isinstance(error, TypeError):
        return None
    if " must be a scalar" in str(error):
        return f"Tensor {name} must be 1-element ({error})"
    return f"{_ADAFACTOR_PHRASES[name]}: {value} ({error})"


def _adafactor_eps(eps: Sequence[Any]) -> tuple:
    """torch's ``eps = (eps1, eps2)``: eps1 None (the dtype's machine epsilon) or a number
    >= 0, eps2 a number >= 0; finite, not a bool or a string."""
    eps1, eps2 = _checks.pair("eps", eps)
    for i, v, phrase in ((0, eps1, "epsilon1"), (1, eps2, "epsilon2")):
        if i == 0 and v is None:
            continue
        _checks.numeric(f"eps[{i}]", v)
        _rule(f"eps[{i}]", v, lambda x: x >= 0, f"{phrase} should be >= 0 but is", ">= 0")
    return (None if eps1 is None else _to_scalar(eps1)), _to_scalar(eps2)


def _real_params_only(opt: optax.GradientTransformation, name: str):
    """`opt`, whose init refuses complex params as torch's optimizer does."""

    def init(params):
        if any(jnp.iscomplexobj(p) for p in jax.tree.leaves(params)):
            raise ValueError(f"{name} does not support complex parameters (as torch's)")
        return opt.init(params)

    return optax.GradientTransformation(init, opt.update)


@accepts_groups
@_checks.arguments(
    _adafactor_message,
    lr=_LR,
    beta2_decay=_checks.real(None, 0),
    d=_checks.real(1),
    weight_decay=_NONNEGATIVE,
)
def Adafactor(
    lr: Hyper = 1e-2,
    beta2_decay: Hyper = -0.8,
    eps: Sequence[Any] = (None, 1e-3),
    d: Hyper = 1.0,
    weight_decay: Hyper = 0.0,
    *,
    maximize: bool = False,
    **flags,
) -> optax.GradientTransformation:
    """``torch.optim.Adafactor``: `lrjax.transforms.factored.torch_adafactor`, per
    parameter (t = its step):

        ρ_t = min(lr_t, 1/sqrt(t)),   θ ← θ (1 - lr_t weight_decay)
        V from row and column averages of g² over the last two dimensions of a tensor
        (a running average of g² for vectors and scalars), β2_t = 1 - t^beta2_decay
        θ ← θ - max(eps2, RMS(θ)) ρ_t U / max(1, RMS(U) / d),  U = g / max(sqrt(V), eps1)

    ``eps = (eps1, eps2)``; eps1 None is the param dtype's machine epsilon. Unlike
    `lrjax.adafactor` (optax's form): eps floors the estimate instead of being added to
    g², every tensor of two or more dimensions is factored (over its last two), lr caps
    the relative step ρ_t and scales the (decoupled) weight decay. `lrjax.applied_lr`
    reports ρ_t. Complex parameters are refused, as by torch. A scheduled ``lr`` (and
    weight decay) is the group's: a parameter whose gradient is None keeps its step
    count t, while its schedule moves on with the others', as with torch's scheduler.
    """
    eps1, eps2 = _adafactor_eps(eps)
    with _checks.peer_rules():
        opt = torch_adafactor(
            lr if callable(lr) else _to_scalar(lr),
            beta2_decay,
            eps1,
            eps2,
            d,
            weight_decay,
        )
    return _real_params_only(_finish(opt, maximize, flags), "Adafactor")
