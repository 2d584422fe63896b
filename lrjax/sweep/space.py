"""Search spaces: a population of hyperparameter settings as a pytree of arrays.

A space is a dict (nested dicts allowed) from names to dimension specs. Sampling it gives
the same dict with one array of shape ``(population,)`` in place of each spec, so a whole
sweep is one vmapped call::

    from lrjax.sweep import space

    hp = space.random(
        {
            "schedule": {
                "family": space.choice([0, 1]),  # an index for lrjax.schedules.switch
                "peak": space.log_uniform(1e-4, 1e-1),
                "warmup": space.int_uniform(0, 1_000),
            },
            "optimizer": {"b1": space.uniform(0.8, 0.95), "b2": 0.999},  # a constant
        },
        64,
        seed=0,
    )
    losses = jax.jit(jax.vmap(train))(hp)  # hp["schedule"]["peak"].shape == (64,)

Dimension specs: `uniform`, `log_uniform`, `int_uniform`, `choice`, and plain numbers
(constants, broadcast to the population). Every spec maps a unit sample u in [0, 1) to a
value (`Spec.from_unit`), so the same spec serves every sampler, and lists its points for a
grid (`Spec.grid`).

Spaces: `grid` (the Cartesian product of per-dimension grids), `random` (independent
uniform samples) and `halton` (a scrambled low-discrepancy sequence). Each result is a
function of its arguments alone: the same seed gives the same population.

Values are generated on the host with NumPy in float64 and returned as `jax.Array`: floats
in the default float dtype (float32, or float64 under ``jax_enable_x64``), integers (from
`int_uniform`, a `choice` of integers, an integer constant) as int32.

There is no Sobol sampler: its direction numbers are a published table (Joe & Kuo 2008)
that does not belong in this module, and scrambled Halton fills the same role for the
handful of dimensions of a learning-rate sweep.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from lrjax import _checks

DEFAULT_POINTS = 3
_INT32 = (-(2**31), 2**31 - 1)


class Spec:
    """One dimension of a search space.

    ``from_unit(u)`` maps unit samples u in [0, 1) to values and ``grid(n)`` lists the
    values of an n-point grid, both as host NumPy arrays; the spaces convert them to
    `jax.Array`. ``integer`` says whether the values are integers (int32 in a space).
    """

    integer: bool = False

    def from_unit(self, u: ArrayLike) -> np.ndarray:
        raise NotImplementedError

    def grid(self, n: int) -> np.ndarray:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class uniform(Spec):
    """Floats uniform on [low, high]: ``low + (high - low) * u``.

    ``grid(n)`` is ``np.linspace(low, high, n)``, both ends included (``[low]`` for n = 1).
    """

    low: float
    high: float

    def __post_init__(self):
        _set(self, low=_number("low", self.low), high=_number("high", self.high))
        _checks.ordered("low", self.low, "high", self.high)

    def from_unit(self, u: ArrayLike) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, np.float64)

    def grid(self, n: int) -> np.ndarray:
        return np.linspace(self.low, self.high, _checks.count("n", n, 1))


@dataclasses.dataclass(frozen=True)
class log_uniform(Spec):
    """Floats whose log is uniform on [log low, log high]: ``low * (high / low) ** u``.

    The scale for learning rates and weight decays: each decade gets the same share of the
    population. Needs 0 < low < high. ``grid(n)`` is ``np.geomspace(low, high, n)``.
    """

    low: float
    high: float

    def __post_init__(self):
        _set(self, low=_number("low", self.low), high=_number("high", self.high))
        _checks.positive("low", self.low)
        _checks.ordered("low", self.low, "high", self.high)

    def from_unit(self, u: ArrayLike) -> np.ndarray:
        log_low, log_high = np.log(self.low), np.log(self.high)
        value = np.exp(log_low + (log_high - log_low) * np.asarray(u, np.float64))
        return np.clip(value, self.low, self.high)  # exp(log(x)) may miss x by an ulp

    def grid(self, n: int) -> np.ndarray:
        return np.geomspace(self.low, self.high, _checks.count("n", n, 1))


@dataclasses.dataclass(frozen=True)
class int_uniform(Spec):
    """Integers uniform on {low, ..., high}, both ends in: ``floor(low + (high - low + 1) * u)``.

    For step counts such as warmup or decay lengths. ``grid(n)`` rounds (halves up)
    ``np.linspace(low, high, n)`` to integers and drops repeats, so it may hold fewer
    than n points.
    """

    low: int
    high: int
    integer = True

    def __post_init__(self):
        low = _number("low", self.low, integer=True)
        high = _number("high", self.high, integer=True)
        _set(self, low=low, high=high)
        _checks.ordered("low", low, "high", high)

    def from_unit(self, u: ArrayLike) -> np.ndarray:
        value = np.floor(self.low + (self.high - self.low + 1) * np.asarray(u, np.float64))
        return np.clip(value, self.low, self.high).astype(np.int64)

    def grid(self, n: int) -> np.ndarray:
        points = np.linspace(self.low, self.high, _checks.count("n", n, 1))
        return np.unique(np.floor(points + 0.5))  # halves round up.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class choice(Spec):
    """One of ``values``, each with probability 1 / len(values): ``values[floor(len * u)]``.

    A categorical dimension over numbers: a schedule-family index for
    `lrjax.schedules.switch`, a set of momentum values. The values are integers (int32)
    when all are integers, else floats. ``grid(n)`` lists every value in the given order,
    whatever n. A choice of one value is a constant, as is a plain number in a space.
    """

    values: Sequence[float]

    def __post_init__(self):
        array = _checks.concrete(self.values)
        if array is None or array.ndim != 1 or array.size == 0:
            raise ValueError(f"values must be a non-empty list of numbers, got {self.values!r}")
        _checks.finite("values", array)
        if np.issubdtype(array.dtype, np.integer):
            _checks.between("values", array, *_INT32)
        _set(self, values=tuple(array.tolist()))

    @property
    def integer(self) -> bool:
        return all(isinstance(v, int) for v in self.values)

    def from_unit(self, u: ArrayLike) -> np.ndarray:
        k = len(self.values)
        index = np.minimum(np.floor(k * np.asarray(u, np.float64)).astype(np.int64), k - 1)
        return np.asarray(self.values)[index]

    def grid(self, n: int) -> np.ndarray:
        _checks.count("n", n, 1)
        return np.asarray(self.values)


def grid(specs: Mapping[str, Any], points: int | Mapping[str, Any] = DEFAULT_POINTS) -> dict:
    """Every combination of per-dimension grid points (the Cartesian product).

    ``points`` is the number of points of every dimension, or a dict mirroring ``specs``
    that gives it per name (a number at a sub-dict covers all its names; names left out
    get `DEFAULT_POINTS`). The population is the product of the grid sizes (see
    `Spec.grid`: a `choice` lists all its values, a constant is one point). Members are
    ordered as ``itertools.product`` orders them, the last name varying fastest.

    Examples:
        >>> hp = grid({"peak": log_uniform(1e-3, 1e-1), "b1": choice([0.9, 0.95])}, {"peak": 3})
        >>> [round(float(x), 6) for x in hp["peak"]]  # the last name varies fastest
        [0.001, 0.001, 0.01, 0.01, 0.1, 0.1]
        >>> [round(float(x), 6) for x in hp["b1"]]
        [0.9, 0.95, 0.9, 0.95, 0.9, 0.95]
    """
    leaves = _leaves(specs)
    if isinstance(points, Mapping):
        paths = [path for path, _ in leaves]
        for path, _ in _walk(points):
            if not any(p[: len(path)] == path for p in paths):
                raise ValueError(f"{_name('points', path)} does not name a dimension of specs")
    axes = [spec.grid(_points(points, path)) for path, spec in leaves]
    index = np.indices([len(a) for a in axes]).reshape(len(axes), -1)
    values = [_to_jax(a[i], spec) for a, i, (_, spec) in zip(axes, index, leaves, strict=True)]
    return _rebuild(specs, iter(values))


def random(specs: Mapping[str, Any], n: int, seed: int) -> dict:
    """``n`` members, each dimension from its own independent uniform unit sample.

    The unit samples are ``numpy.random.default_rng(seed).random((n, d))``, one column per
    sampled dimension (constants take none) in the order of ``specs``. Rows are drawn one
    after another, so the first m members do not depend on n.
    """
    n, seed = _checks.count("n", n, 1), _checks.count("seed", seed, 0)
    rng = np.random.default_rng(seed)
    return _sample(specs, n, lambda d: rng.random((n, d)))


def halton(
    specs: Mapping[str, Any], n: int, seed: int = 0, *, skip: int = 1, scramble: bool = True
) -> dict:
    """``n`` members from a Halton sequence: low discrepancy, so the population covers the
    space more evenly than independent samples.

    Dimension j of point i is the radical inverse of i in the j-th prime base
    (2, 3, 5, ...): write i in base b, mirror the digits about the point, so
    i = d0 + d1 b + d2 b^2 + ... gives d0 / b + d1 / b^2 + d2 / b^3 + ... (Halton 1960).
    With ``scramble`` (the default) every digit position of every base has its own random
    permutation of the digits, drawn from ``numpy.random.default_rng(seed)``, and d_k is
    replaced by perm_k(d_k) over enough positions to fill float64 (random digit
    permutation, as scipy's scrambled ``Halton``; Owen 2017). The permutations keep the
    stratification (any b^m consecutive points aligned at a multiple of b^m fall one in
    each interval of width b^-m) and break the correlation between high bases that plain
    Halton shows. ``scramble=False`` gives the plain sequence and ignores ``seed``.

    Points ``skip, ..., skip + n - 1`` are used; the default leaves out point 0, the
    origin of the plain sequence. ``halton(specs, m, seed, skip=s + n)`` continues
    ``halton(specs, n, seed, skip=s)``.

    References:
        J. H. Halton, "On the efficiency of certain quasi-random sequences of points in
        evaluating multi-dimensional integrals", Numerische Mathematik 2 (1960).
        A. B. Owen, "A randomized Halton algorithm in R", arXiv:1706.02808 (2017).
    """
    n, seed = _checks.count("n", n, 1), _checks.count("seed", seed, 0)
    skip = _checks.count("skip", skip, 0)
    if not isinstance(scramble, bool):
        raise ValueError(f"scramble must be True or False, got {scramble!r}")
    return _sample(specs, n, lambda d: _halton(n, d, seed, skip, scramble))


def _halton(n: int, d: int, seed: int, skip: int, scramble: bool) -> np.ndarray:
    """Points skip..skip+n-1 of the d-dimensional Halton sequence, shape (n, d), in [0, 1)."""
    rng = np.random.default_rng(seed)
    index = np.arange(skip, skip + n, dtype=np.int64)
    columns = []
    for base in _primes(d):
        digits = int(np.ceil(64 / np.log2(base)))  # every int64 index, float64's precision
        x, i, weight = np.zeros(n), index.copy(), 1.0
        for _ in range(digits):
            perm = rng.permutation(base) if scramble else np.arange(base)
            weight /= base
            x += perm[i % base] * weight
            i //= base
        columns.append(np.minimum(x, np.nextafter(1.0, 0.0)))
    return np.stack(columns, axis=1) if columns else np.zeros((n, 0))


def _primes(count: int) -> list[int]:
    """The first ``count`` primes."""
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def _sample(specs: Mapping[str, Any], n: int, unit: Callable[[int], np.ndarray]) -> dict:
    """Map unit samples ``unit(d)`` (shape (n, d), one column per sampled dimension)."""
    leaves = _leaves(specs)
    sampled = [spec for _, spec in leaves if not _is_constant(spec)]
    columns = iter(unit(len(sampled)).T)
    values = [
        _to_jax(spec.from_unit(np.zeros(n) if _is_constant(spec) else next(columns)), spec)
        for _, spec in leaves
    ]
    return _rebuild(specs, iter(values))


def _is_constant(spec: Spec) -> bool:
    return isinstance(spec, choice) and len(spec.values) == 1


def _leaves(specs: Mapping[str, Any]) -> list[tuple[tuple, Spec]]:
    """(path, spec) for every dimension of ``specs``, in order; numbers become constants."""
    if not isinstance(specs, Mapping):
        raise ValueError(f"specs must be a dict of specs, got {specs!r}")
    leaves = [(path, _as_spec(_name("specs", path), x)) for path, x in _walk(specs)]
    if not leaves:
        raise ValueError(f"specs must name at least one hyperparameter, got {specs!r}")
    return leaves


def _walk(tree: Mapping[str, Any], path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, leaf) for every non-dict value of a nested dict, in insertion order."""
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _walk(value, (*path, key))
        else:
            yield (*path, key), value


def _rebuild(specs: Mapping[str, Any], values: Iterator[jax.Array]) -> dict:
    """The structure of ``specs`` with its leaves replaced by ``values`` in order."""
    return {
        key: _rebuild(spec, values) if isinstance(spec, Mapping) else next(values)
        for key, spec in specs.items()
    }


def _as_spec(name: str, x: Any) -> Spec:
    if isinstance(x, Spec):
        return x
    value = _checks.concrete(x)
    if value is None or value.ndim != 0:
        raise ValueError(
            f"{name} must be a spec (uniform, log_uniform, int_uniform, choice) or a number, "
            f"got {x!r}"
        )
    return choice([value.item()])


def _points(points: int | Mapping[str, Any], path: tuple) -> int:
    """The grid size for the dimension at ``path``."""
    node, walked = points, ()
    for key in path:
        if not isinstance(node, Mapping):
            break
        node, walked = node.get(key, DEFAULT_POINTS), (*walked, key)
    return _checks.count(_name("points", walked), node, 1)


def _to_jax(values: np.ndarray, spec: Spec) -> jax.Array:
    dtype = jnp.int32 if spec.integer else jax.dtypes.canonicalize_dtype(np.float64)
    return jnp.asarray(values, dtype)


def _name(root: str, path: tuple) -> str:
    return root + "".join(f"[{key!r}]" for key in path)


def _set(obj: Any, **fields: Any) -> None:
    for name, value in fields.items():
        object.__setattr__(obj, name, value)


def _number(name: str, x: Any, integer: bool = False) -> Any:
    """``x`` as a Python float (or int) after checking it is one finite number."""
    value = _checks.concrete(x)
    if value is None or value.ndim != 0:
        raise ValueError(f"{name} must be a number, got {x!r}")
    _checks.finite(name, value)
    if not integer:
        return float(value)
    if not float(value).is_integer():
        raise ValueError(f"{name} must be an integer, got {x!r}")
    _checks.between(name, value, *_INT32)
    return int(value)


# --------------------------------------------------------------------------------------
# Spaces written as data: the ``[space]`` table of `lrjax sweep`'s config file

KINDS: dict[str, type[Spec]] = {
    "uniform": uniform,
    "log_uniform": log_uniform,
    "int_uniform": int_uniform,
    "choice": choice,
}
"""The distributions a space written as data may name."""


def parse(
    table: Mapping[str, Any],
    labels: Mapping[str, Sequence[str]] | None = None,
    root: str = "space",
    _path: str = "",
) -> dict:
    """A space from plain data (a TOML table or JSON object), each entry one of::

        peak = {log_uniform = [1e-4, 1.0]}     # also uniform, int_uniform: [low, high]
        optimizer = ["adam", "sgd"]            # a choice (same as {choice = [...]})
        b2 = 0.999                             # a constant
        schedule = "cosine"                    # a constant, by name
        [space.inner]                          # a nested table: a nested space

    A name (a string) stands for its index in ``labels[path]`` (the task's names of an
    integer hyperparameter, by "/"-joined path), so the space holds integers as the task
    reads them. `ValueError` names the entry (under ``root``), what it got and what is
    allowed.
    """
    labels = labels or {}
    if not isinstance(table, Mapping):
        raise ValueError(f"{root} must be a table of hyperparameters, got {table!r}")
    out = {}
    for key, value in table.items():
        path = f"{_path}/{key}" if _path else str(key)
        if isinstance(value, Mapping) and not _is_spec_table(value):
            out[key] = parse(value, labels, root, path)
        else:
            out[key] = _entry(f"{root} entry {path!r}", value, labels.get(path))
    return out


def _entry(where: str, value: Any, names: Sequence[str] | None) -> Any:
    if isinstance(value, Mapping):
        ((kind, args),) = value.items()
        if kind == "choice":
            return choice(_indices(where, args, names))
        if names is not None:
            raise ValueError(f"{where} takes names ({', '.join(names)}), got {value!r}")
        if (
            not isinstance(args, list)
            or len(args) != 2
            or any(isinstance(a, (bool, str)) for a in args)
        ):
            raise ValueError(f"{where}: {kind} takes [low, high], got {args!r}")
        try:
            return KINDS[kind](*args)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: {e}") from None
    if isinstance(value, list):
        return choice(_indices(where, value, names))
    if isinstance(value, str):
        return _indices(where, [value], names)[0]
    if names is not None:
        raise ValueError(f"{where} takes names ({', '.join(names)}), got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        allowed = ", ".join(f"{{{k} = ...}}" for k in KINDS)
        raise ValueError(
            f"{where} must be a number, a list (a choice) or one of {allowed}; got {value!r}"
        )
    if not np.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    return value


def _indices(where: str, values: Any, names: Sequence[str] | None) -> list:
    """Choice values, each name replaced by its index in ``names``."""
    if not isinstance(values, list) or not values:
        raise ValueError(f"{where}: a choice must be a non-empty list, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, str):
            if names is None:
                raise ValueError(f"{where}: {v!r} is a name, but this hyperparameter takes numbers")
            if v not in names:
                raise ValueError(f"{where}: unknown name {v!r}; choose from {', '.join(names)}")
            out.append(list(names).index(v))
        elif names is not None:
            raise ValueError(f"{where} takes names ({', '.join(names)}), got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ValueError(f"{where}: a choice holds finite numbers or names, got {v!r}")
        else:
            out.append(v)
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: a choice lists a value twice: {values}")
    return out


def merge(default: Mapping[str, Any], override: Mapping[str, Any], root: str = "space") -> dict:
    """``default`` with the entries of ``override`` in place of its own; a name that
    ``default`` does not have is a `ValueError` (the task would never read it), unless
    ``default`` is empty (a task that leaves its whole space to the config)."""
    out = dict(default)
    for key, value in override.items():
        name = f"{root}/{key}" if root != "space" else key
        if default and key not in default:
            raise ValueError(
                f"space entry {name!r} is not a hyperparameter of this task; it has: "
                f"{', '.join(default)}"
            )
        inner = default.get(key)
        nested = isinstance(value, Mapping) and not _is_spec_table(value)
        if nested and default and not isinstance(inner, Mapping):
            allowed = ", ".join(f"{{{k} = ...}}" for k in KINDS)
            raise ValueError(
                f"space entry {name!r} must be a number, a list (a choice) or one of "
                f"{allowed}; got {value!r}"
            )
        if nested and isinstance(inner, Mapping):
            out[key] = merge(inner, value, name)
        else:
            out[key] = value
    return out


def _is_spec_table(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in KINDS


def dimensions(specs: Mapping[str, Any]) -> dict[str, Spec]:
    """Every dimension of ``specs`` by its "/"-joined path (the names of
    `lrjax.sweep.SweepResult.hparams`), constants as one-value choices."""
    return {"/".join(map(str, path)): spec for path, spec in _leaves(specs)}


def is_constant(spec: Spec) -> bool:
    """Whether a dimension holds one value (a constant, or a choice of one)."""
    return _is_constant(spec)


def describe(spec: Spec, names: Sequence[str] | None = None) -> str:
    """A dimension in words for a report: "log-uniform on [0.0001, 3]", "one of adam,
    sgd", "0.999"."""
    if isinstance(spec, choice):
        values = [names[int(v)] if names else f"{v:g}" for v in spec.values]
        return values[0] if len(values) == 1 else f"one of {', '.join(values)}"
    kind = {uniform: "uniform", log_uniform: "log-uniform", int_uniform: "integers uniform"}
    return f"{kind[type(spec)]} on [{spec.low:g}, {spec.high:g}]"
