"""Eager validation of hyperparameters that is skipped for traced values.

A check runs only when the value is known now (a Python number, a NumPy array or a
concrete JAX array). Inside `jit` or `vmap` the value is a tracer and the check is skipped,
so validation never breaks tracing.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable

import jax
import numpy as np

_PEER_RULES = contextvars.ContextVar("lrjax_peer_rules", default=False)


@contextlib.contextmanager
def peer_rules():
    """Skip lrjax's own range checks while a compat constructor builds native pieces.

    A compat constructor validates its arguments exactly as its peer library does (what
    the peer accepts, such as torch's ``SGD(momentum=1.5)``, is accepted) before it builds
    lrjax's schedules and transformations, whose stricter native ranges must then not
    refuse the same values. Inside, every range check is only a finiteness check (a NaN
    or infinite value is still refused, so nothing turns silently into NaN); shape and
    kind checks run as usual.
    """
    token = _PEER_RULES.set(True)
    try:
        yield
    finally:
        _PEER_RULES.reset(token)


def concrete(x) -> np.ndarray | None:
    """`x` as a NumPy array when its value is known now, else None."""
    if x is None or isinstance(x, jax.core.Tracer):
        return None
    try:
        value = np.asarray(x)
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return None
    if value.dtype == object or not jax.numpy.issubdtype(value.dtype, np.number):
        return None
    # bfloat16 and the other ml_dtypes floats are not NumPy numbers; check them as float64.
    return value if np.issubdtype(value.dtype, np.number) else value.astype(np.float64)


def check(name: str, x, ok: Callable[[np.ndarray], np.ndarray], allowed: str) -> None:
    """Raise `ValueError` naming `name` when the concrete value of `x` fails `ok`
    (inside `peer_rules`, only when it is not finite)."""
    if _PEER_RULES.get():
        ok, allowed = np.isfinite, "finite"
    value = concrete(x)
    if value is not None and not np.all(ok(value)):
        raise ValueError(f"{name} must be {allowed}, got {show(x)}")


def scalar(name: str, x) -> None:
    """Raise `ValueError` when `x` (a number or array, traced or not) is not a scalar.

    A rate of shape (2,) would otherwise apply per-coordinate rates, or fail later
    with a broadcasting error that names no argument.
    """
    shape = np.shape(x) if not hasattr(x, "shape") else tuple(x.shape)
    if shape != ():
        raise ValueError(f"{name} must be a scalar, got an array of shape {shape}")


def scalar_valued(name: str, fn: Callable) -> None:
    """Raise `ValueError` when the schedule `fn` returns a non-scalar for a scalar step.

    The shape comes from `jax.eval_shape`, so nothing is computed; a callable that cannot
    be traced abstractly (a host-side function) is not checked here.
    """
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((), np.int32))
    except Exception:  # noqa: BLE001  (any failure: the shape is unknown, not wrong)
        return
    shape = getattr(out, "shape", None)
    if shape is not None and tuple(shape) != ():
        raise ValueError(f"{name} must return a scalar for each step, got shape {tuple(shape)}")


def show(x) -> str:
    value = np.asarray(x)
    return repr(value.item()) if value.ndim == 0 else np.array2string(value, threshold=8)


def pair(name: str, x) -> tuple:
    """The two entries of a pair such as ``betas``, or `ValueError` naming `name`."""
    try:
        first, second = x
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {x!r}") from None
    return first, second


def finite(name: str, x) -> None:
    check(name, x, np.isfinite, "finite")


def positive(name: str, x) -> None:
    check(name, x, lambda v: np.isfinite(v) & (v > 0), "a finite number > 0")


def nonnegative(name: str, x) -> None:
    check(name, x, lambda v: np.isfinite(v) & (v >= 0), "a finite number >= 0")


def at_least(name: str, x, low: float) -> None:
    check(name, x, lambda v: np.isfinite(v) & (v >= low), f"a finite number >= {low}")


def between(name: str, x, low: float, high: float, *, open_low=False, open_high=False) -> None:
    """Check low <= x <= high, with either end open on request."""
    above = (lambda v: v > low) if open_low else (lambda v: v >= low)
    below = (lambda v: v < high) if open_high else (lambda v: v <= high)
    interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
    check(name, x, lambda v: np.isfinite(v) & above(v) & below(v), f"in {interval}")


def one_of(name: str, x, options) -> None:
    if x not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {x!r}")


def nondecreasing(name: str, x) -> None:
    check(name, x, lambda v: np.all(np.diff(v, axis=-1) >= 0), "sorted in nondecreasing order")


def ordered(low_name: str, low, high_name: str, high) -> None:
    """Check low < high when both are known now."""
    lo, hi = concrete(low), concrete(high)
    if lo is not None and hi is not None and not np.all(lo < hi):
        raise ValueError(f"{low_name} must be < {high_name}, got {show(low)} and {show(high)}")


@contextlib.contextmanager
def renamed(**names: str):
    """Report validation errors under another library's argument names (native=peer).

    The compat constructors build native schedules; a bad ``step_size`` should be
    reported as ``step_size``, not as the native ``every``.
    """
    try:
        yield
    except ValueError as error:
        message = str(error)
        for native, peer in names.items():
            if message.startswith(f"{native} "):
                raise ValueError(peer + message[len(native) :]) from None
        raise


def count(name: str, x, low: int) -> int:
    """A host-side count or seed (population size, steps, trials): a Python or NumPy
    integer >= low, returned as int. Bools and integer-valued floats are refused."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")
    return int(x)
