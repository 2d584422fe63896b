"""Eager validation of hyperparameters that is skipped for traced values.

A check runs only when the value is known now (a Python number, a NumPy array or a
concrete JAX array). Inside `jit` or `vmap` the value is a tracer and the check is skipped,
so validation never breaks tracing.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
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
    (inside `peer_rules`, only when it is not finite), and `TypeError` when `x` is not a
    number or array of numbers at all (a bool, a string). None is an absent optional
    value and passes; a declared argument (`arguments`) says whether None is allowed."""
    if x is None:
        return
    numeric(name, x)
    if _PEER_RULES.get():
        ok, allowed = np.isfinite, "finite"
    value = concrete(x)
    if value is not None and not np.all(ok(value)):
        raise ValueError(f"{name} must be {allowed}, got {show(x)}")


def numeric(name: str, x) -> None:
    """Raise `TypeError` naming `name` unless `x` is a real number or an array of them
    (traced or not). A bool is refused: ``b1=True`` is 1.0 to NumPy, a silent NaN here."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        if isinstance(x, bool) or not isinstance(x, (int, float, np.number, list, tuple)):
            raise TypeError(f"{name} must be a number, got {_kind_of(x)}")
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number, got {_kind_of(x)}") from None
    real = jax.numpy.issubdtype(dtype, np.integer) or jax.numpy.issubdtype(dtype, np.floating)
    if not real:
        raise TypeError(f"{name} must be a real number, got {_kind_of(x)}")


def _kind_of(x) -> str:
    """How a message shows a value of the wrong kind: the value itself when short."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None:
        return f"an array of dtype {dtype}"
    text = repr(x)
    return text if len(text) <= 40 else f"a {type(x).__name__}"


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


# The declared layer: each public constructor states, per argument, the kind, the shape
# and the range it accepts (`arguments`), and every call is checked against it before
# the constructor runs. The generated test in tests/test_declared_args.py enumerates the
# public constructors and their numeric arguments from these declarations, so a new
# method that forgets one fails there.


@dataclasses.dataclass(frozen=True)
class Arg:
    """What one argument accepts.

    kind: ``"real"`` (a float or int), ``"integer"`` (a step count or other count:
    integral values), or ``"function"`` (a callable). shape: ``"scalar"``, ``"one"`` (a
    scalar or a one-element array, as torch's ``_to_scalar``) or ``"vector"`` (an array of
    one or more dimensions, such as boundaries). ``low``/``high`` bound the value, open
    or closed; ``finite`` refuses inf (NaN is always refused). ``schedule`` also accepts a
    callable of the step, ``optional`` accepts None (a term left out).
    """

    kind: str = "real"
    shape: str = "scalar"
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    finite: bool = True
    schedule: bool = False
    optional: bool = False

    @property
    def allowed(self) -> str:
        """The range in words, as the messages say it."""
        low, high = self.low, self.high
        if low is not None and high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            if self.kind == "real":
                low, high = float(low), float(high)
            return f"in {left}{low}, {high}{right}"
        number = "a finite number" if self.finite else "a number"
        if low is not None:
            return f"{number} {'>' if self.open_low else '>='} {low}"
        if high is not None:
            return f"{number} {'<' if self.open_high else '<='} {high}"
        return "finite" if self.finite else "not NaN"

    def ok(self, v: np.ndarray) -> np.ndarray:
        good = np.isfinite(v) if self.finite else ~np.isnan(v)
        if self.low is not None:
            good &= (v > self.low) if self.open_low else (v >= self.low)
        if self.high is not None:
            good &= (v < self.high) if self.open_high else (v <= self.high)
        return good


def real(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    finite: bool = True,
    schedule: bool = False,
    optional: bool = False,
    shape: str = "scalar",
) -> Arg:
    """A real-valued argument (a scalar unless `shape` says otherwise)."""
    return Arg("real", shape, low, high, open_low, open_high, finite, schedule, optional)


def integer(
    low: float | None = 0,
    high: float | None = None,
    *,
    open_low: bool = False,
    optional: bool = False,
    shape: str = "scalar",
    finite: bool = True,
) -> Arg:
    """A count (steps, epochs, a cycle length): integral values, >= `low`."""
    return Arg("integer", shape, low, high, open_low, False, finite, False, optional)


def function(*, optional: bool = False) -> Arg:
    """A callable (a schedule, a lambda of the step)."""
    return Arg("function", optional=optional)


# The common declarations, by role.
RATE = real(0, schedule=True)  # a learning rate: >= 0, or a schedule of the step count
UNIT = real(0, 1, open_high=True, schedule=True)  # a decay rate: betas, momentum, rho
NONNEGATIVE = real(0)
POSITIVE = real(0, open_low=True)
FINITE = real()
STEPS = integer(0, open_low=True)  # a number of steps > 0
START = integer(0)  # a step index or a number of steps >= 0
SCHEDULED = real(0, schedule=True)  # >= 0, or a schedule (eps, a decay coefficient)
WEIGHT_DECAY = real(0, schedule=True, optional=True)  # None: no decay term
# An Adam-family scaling's arguments, and an optimizer's rate and optional weight decay.
MOMENTS = {"b1": UNIT, "b2": UNIT, "eps": SCHEDULED}
OPTIMIZER = {"learning_rate": RATE, "weight_decay": WEIGHT_DECAY}


def compute_dtype(value: np.ndarray) -> np.dtype:
    """The float type a hyperparameter is computed in: its own float type, at least
    float32 (bfloat16 and float16 are computed in float32), float64 only under x64."""
    canonical = np.dtype(jax.dtypes.canonicalize_dtype(np.float64))
    if np.issubdtype(value.dtype, np.floating) and value.dtype != np.float64:
        return np.promote_types(value.dtype, np.float32)
    return canonical


def validate(name: str, x, arg: Arg) -> None:
    """Check one argument against its declaration: `TypeError` for a value of the wrong
    kind, `ValueError` for a wrong shape or a value out of range, naming `name`.

    A traced value is checked for its kind and shape only. Inside `peer_rules` the range
    is only finiteness. A float is checked also as the compute dtype sees it
    (`compute_dtype`), so 1e-45 is refused as a step size > 0 in float32, where it is 0.
    """
    if x is None:
        if arg.optional:
            return
        raise TypeError(f"{name} must be {_what(arg)}, got None")
    if callable(x) and not isinstance(x, (jax.Array, np.ndarray, jax.core.Tracer)):
        if arg.kind == "function" or arg.schedule:
            if arg.kind != "function":
                scalar_valued(name, x)
            return
        raise TypeError(f"{name} must be {_what(arg)}, got {_kind_of(x)}")
    if arg.kind == "function":
        raise TypeError(f"{name} must be a callable, got {_kind_of(x)}")
    numeric(name, x)
    shape = tuple(np.shape(x))
    if arg.shape == "scalar" and shape != ():
        raise ValueError(f"{name} must be a scalar, got an array of shape {shape}")
    if arg.shape == "one" and int(np.prod(shape)) != 1:
        raise ValueError(f"{name} must be a scalar or one element, got shape {shape}")
    if arg.shape == "vector" and len(shape) == 0:
        raise ValueError(f"{name} must be a sequence or 1-D array, got {show(x)}")
    value = concrete(x)
    if value is None:
        return
    if arg.kind == "integer" and not np.all(np.isinf(value) | (value == np.floor(value))):
        raise ValueError(f"{name} must be an integer, got {show(x)}")
    peer = _PEER_RULES.get()
    ok, allowed = (np.isfinite, "finite") if peer and arg.finite else (arg.ok, arg.allowed)
    if not np.all(ok(value)):
        raise ValueError(f"{name} must be {allowed}, got {show(x)}")
    dtype = compute_dtype(np.asarray(x))
    if arg.kind == "real" and dtype != value.dtype:
        # XLA on CPU and GPU flushes subnormals to zero, so they count as 0 here.
        with np.errstate(over="ignore"):
            seen = value.astype(dtype)
        seen = np.where(np.abs(seen) < np.finfo(dtype).tiny, 0, seen)
        if not np.all(ok(seen.astype(np.float64))):
            raise ValueError(
                f"{name} must be {allowed} in {dtype} (the dtype it is computed in), "
                f"got {show(x)}, which is {show(seen)} there"
            )


def _what(arg: Arg) -> str:
    kinds = {"real": "a number", "integer": "an integer", "function": "a callable"}
    what = kinds[arg.kind]
    if arg.kind != "function" and arg.shape == "vector":
        what = "a sequence of numbers"
    return what + (" or a schedule" if arg.schedule else "")


def arguments(phrase: Callable | None = None, /, **declared: Arg) -> Callable:
    """Decorate a public constructor (a function, or a class whose ``__init__`` takes
    the arguments) with the declaration of its arguments, checked on every call before
    the body runs. Values left at their defaults are not checked again. The declaration
    is kept as ``__lrjax_args__`` for the generated tests.

    `phrase(name, value, error)`, when given, rewords a refusal: it returns the message
    to raise instead (same error type), or None to keep it. compat.torch uses it to put
    torch's own phrases ("Invalid learning rate: -0.1") first, as code ported from torch
    matches on them."""

    def decorate(obj):
        target = obj.__init__ if isinstance(obj, type) else obj
        signature = inspect.signature(target)
        unknown = set(declared) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{obj.__qualname__} declares unknown arguments {sorted(unknown)}")

        @functools.wraps(target)
        def checked(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return target(*args, **kwargs)  # the constructor says what is wrong
            for name, value in bound.arguments.items():
                if name not in declared:
                    continue
                try:
                    validate(name, value, declared[name])
                except (TypeError, ValueError) as error:
                    message = phrase(name, value, error) if phrase else None
                    if message is None:
                        raise
                    raise type(error)(message) from None
            return target(*args, **kwargs)

        if isinstance(obj, type):
            obj.__init__ = checked
            obj.__lrjax_args__ = declared
            return obj
        checked.__lrjax_args__ = declared
        return checked

    return decorate
