"""Model-based search with Optuna: batches of suggested trials, each batch one vmapped run.

`search` drives an Optuna study through its ask-and-tell interface. Each round asks the
sampler for K trials (K = ``batch_size``, or fewer in the last round), turns their
suggestions into a population pytree of the shape `lrjax.sweep.space` produces (one
array of shape ``(K,)`` per name), trains all K members with one `lrjax.sweep.run` call
(one compiled, vmapped program), and tells Optuna the objective of each member. The
sampler then conditions the next round on everything told so far. The default sampler
is TPE (a tree-structured Parzen estimator, Bergstra et al. 2011), with the "constant
liar" so the K trials of a round, asked before any of them is told, spread out instead
of piling onto one point.

Algorithm, per round::

    trials = [study.ask() for _ in range(K)]           # sampler suggests K settings
    hp = {name: array([t.params[name] for t in trials])}  # the population pytree
    result = run(init, step, hp, batches, evaluate=evaluate, eval_every=eval_every)
    for t, curve in zip(trials, result.evals[objective]):
        for value, step in zip(curve, result.eval_steps):  # the learning curve
            t.report(value, step)
            if t.should_prune(): tell PRUNED; break
        else: tell COMPLETE with curve[-1] (FAIL if it is not finite)

Decisions:

- Pruning. All K members of a round train to the end in one program; a pruner cannot
  stop one member early. The learning curve is still reported rung by rung and a trial
  the pruner would have stopped is told PRUNED (Optuna then records the value at that
  rung as the trial's value), so Optuna's statistics and pruner-aware samplers see what
  they would in a sequential study. ``pruner=None`` means no pruning (`NopPruner`), not
  Optuna's default `MedianPruner`. Non-finite intermediate values are not reported.
- Failures. A trial whose final objective is NaN or infinite is told FAIL (Optuna
  refuses non-finite values for a COMPLETE trial); its user attribute ``fail_reason``
  says why. FAIL trials count toward ``trials`` and are NaN in ``history``.
- Every trial gets the user attribute ``final_value``: the objective at the last
  evaluation, also for PRUNED and FAIL trials (all of them trained to the end).
- Resume. ``trials`` is the total of finished (COMPLETE, PRUNED or FAIL) trials the study
  should hold: rerunning the same call on a persistent ``storage`` after a crash runs
  only the remainder. Trials a crashed search left RUNNING are marked FAIL (with
  ``fail_reason`` "left running by an interrupted search") before new trials are
  asked, so they count toward ``trials``; their settings are not retried. This assumes
  one search writes to the study at a time: another process's running trials would be
  marked FAIL too.
- Compilation. A short last round is padded to ``batch_size`` members by repeating its
  last member (the extra results are dropped), so every round reuses one compiled
  program. Pass the same `init`, `step` and `evaluate` objects across calls to reuse it
  across calls too.

Optuna is imported when `search` runs, never by ``import lrjax``; install it with
``pip install 'lrjax[optuna]'``.

References:
    T. Akiba, S. Sano, T. Yanase, T. Ohta, M. Koyama, "Optuna: A Next-generation
    Hyperparameter Optimization Framework", KDD 2019 (the ask-and-tell interface:
    https://optuna.readthedocs.io/en/stable/tutorial/20_recipes/009_ask_and_tell.html).
    J. Bergstra, R. Bardenet, Y. Bengio, B. Kegl, "Algorithms for Hyper-Parameter
    Optimization", NeurIPS 2011 (TPE).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from lrjax import _checks
from lrjax.sweep import space as S
from lrjax.sweep.run import SweepResult, run

_INSTALL = "pip install 'lrjax[optuna]'"
_ABANDONED = "left running by an interrupted search"


class BayesResult(NamedTuple):
    """The outcome of `search`.

    study: the Optuna study (all its trials, including those of earlier calls).
    best_params: the best COMPLETE trial's settings by spec path ("a/b"), constants
      included; ``{}`` when no trial completed.
    best_value: its objective (NaN when no trial completed).
    history: (finished trials,) the objective of every finished trial in trial order:
      the value of COMPLETE trials, NaN for PRUNED and FAIL ones (their full-run value is
      the trial's ``final_value`` user attribute).
    best_so_far: the running best of ``history`` (min, or max for "maximize"; NaN
      until the first COMPLETE trial).
    rounds: seconds per round of this call (ask, train, tell).
    sweeps: each round's `SweepResult` (its k trials, padding dropped), with the loss,
      learning-rate and evaluation curves, for reports.
    """

    study: Any
    best_params: dict[str, Any]
    best_value: float
    history: np.ndarray
    best_so_far: np.ndarray
    rounds: list[float]
    sweeps: list[SweepResult] = []


def _import_optuna():
    try:
        import optuna
    except ImportError as e:
        raise ImportError(f"lrjax.sweep.bayes needs Optuna: {_INSTALL}") from e
    return optuna


def _storage_url(storage: Any) -> Any:
    """A path becomes ``sqlite:///path``; an Optuna URL or storage object passes."""
    if isinstance(storage, Path) or (isinstance(storage, str) and "://" not in storage):
        return f"sqlite:///{Path(storage)}"
    return storage


SEED_RANGE = (0, 2**32 - 1)
"""The seeds the default sampler takes: TPE seeds a NumPy ``RandomState``, which refuses
anything outside [0, 2**32 - 1] with an error that names no argument."""

_SQLITE_HEADER = b"SQLite format 3\x00"


def check_storage(storage: Any) -> None:
    """Refuse, before any training, a ``storage`` that names an SQLite file that cannot
    be one: a path (or ``sqlite:///`` URL) that is a directory, whose folder does not
    exist, or that is an existing non-empty file without SQLite's header. A new or empty
    file is fine (Optuna creates the tables). Another URL is refused when SQLAlchemy
    cannot load its database kind or driver (`_check_url`, no connection made); what
    only connecting tells, and storage objects, are left to `search`, which reports
    the backend's error when it opens them."""
    if isinstance(storage, Path) or (isinstance(storage, str) and "://" not in storage):
        text = str(storage)
    elif isinstance(storage, str) and storage.startswith("sqlite:///"):
        text = storage[len("sqlite:///") :]
        if text in ("", ":memory:"):
            return
    else:
        if isinstance(storage, str):
            _check_url(storage)
        return
    if not text:
        raise ValueError("storage must name an SQLite file, got ''")
    path = Path(text)
    if path.is_dir():
        raise ValueError(
            f"storage {str(storage)!r} is a directory; name an SQLite file in it, "
            f"such as {str(path / 'study.db')!r}"
        )
    if not path.parent.is_dir():
        raise ValueError(
            f"storage {str(storage)!r}: its folder {str(path.parent)!r} does not exist"
        )
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as f:
            if f.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                raise ValueError(
                    f"storage {str(storage)!r} is not an SQLite database (the file exists "
                    f"and lacks SQLite's header); name a new file or an Optuna study's"
                )


def _check_url(url: str) -> None:
    """Refuse a storage URL whose database kind (``bogus://``) or driver SQLAlchemy
    cannot load. ``create_engine`` loads both but connects to nothing; Optuna opens
    every URL through SQLAlchemy. Skipped without SQLAlchemy (`search` reports it)."""
    try:
        import sqlalchemy
    except ImportError:
        return
    try:
        sqlalchemy.create_engine(url).dispose()
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ValueError(f"storage {url!r} cannot be opened: {first}") from e


def _open_study(optuna: Any, storage: Any, **options: Any) -> Any:
    """``optuna.create_study`` on ``storage``; the backend's error on opening it (an
    SQLAlchemy error: no such dialect, unable to open the file, not a database; a
    missing database driver; Optuna's refusal of a URL or of an old schema) becomes a
    `ValueError` naming the storage, with the first line of the backend's message."""
    url = None if storage is None else _storage_url(storage)
    if url is None:
        return optuna.create_study(storage=None, **options)
    errors: tuple[type[BaseException], ...] = (ImportError, ValueError, RuntimeError)
    errors += (optuna.exceptions.OptunaError,)
    try:
        import sqlalchemy.exc

        errors += (sqlalchemy.exc.SQLAlchemyError,)
    except ImportError:  # no SQLAlchemy: Optuna cannot open an RDB storage either
        pass
    try:
        return optuna.create_study(storage=url, **options)
    except errors as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ValueError(f"storage {str(storage)!r} cannot be opened: {first}") from e


def _suggest(trial: Any, name: str, spec: S.Spec) -> Any:
    if isinstance(spec, S.log_uniform):
        return trial.suggest_float(name, spec.low, spec.high, log=True)
    if isinstance(spec, S.uniform):
        return trial.suggest_float(name, spec.low, spec.high)
    if isinstance(spec, S.int_uniform):
        return trial.suggest_int(name, spec.low, spec.high)
    if isinstance(spec, S.choice):
        return trial.suggest_categorical(name, list(spec.values))
    raise ValueError(f"specs[{name!r}]: no Optuna distribution for {type(spec).__name__}")


def _check_objective(init, evaluate, specs, objective) -> None:
    """Trace (not run) one member's ``init`` and ``evaluate`` to see the metric names."""
    if evaluate is None:
        raise ValueError("search needs evaluate, the function that computes the objective")
    hp = jax.tree.map(lambda x: x[0], S.random(specs, 1, 0))
    # one trace of both, so a carry with framework objects (an Equinox module's function
    # leaves, a TrainState's tx) never leaves it
    names = jax.eval_shape(lambda hp: evaluate(init(hp), hp), hp)
    if not isinstance(objective, str) or objective not in names:
        raise ValueError(
            f"objective {objective!r} is not a metric of evaluate, which gives {sorted(names)}"
        )


def search(
    init: Callable[[Any], Any],
    step: Callable[..., Any],
    specs: Mapping[str, Any],
    batches: Any = None,
    *,
    steps: int | None = None,
    evaluate: Callable[[Any, Any], dict[str, Any]],
    objective: str,
    trials: int,
    batch_size: int,
    sampler: Any = None,
    pruner: Any = None,
    study: Any = None,
    storage: Any = None,
    study_name: str = "lrjax",
    seed: int = 0,
    eval_every: int | None = None,
    direction: str = "minimize",
    chunk_size: int | None = None,
    mesh: Any = None,
) -> BayesResult:
    """Optimize ``evaluate(...)[objective]`` over ``specs`` with an Optuna study, training
    each round's ``batch_size`` suggestions as one vmapped population (see the module
    docstring for the algorithm and how pruned, failed and interrupted trials are told).

    ``init``, ``step``, ``batches`` (or ``steps``), ``evaluate``, ``eval_every``,
    ``chunk_size`` and ``mesh`` are as for `lrjax.sweep.run`; ``evaluate`` must give
    ``objective``, and each evaluation step is one rung reported to Optuna. Each round's
    `SweepResult` has ``objective`` as its score, in ``direction``'s mode.

    Args:
      specs: a space as for `lrjax.sweep.space` (nested dicts of `uniform`,
        `log_uniform`, `int_uniform`, `choice` and plain-number constants). Optuna names
        the parameters by path, "a/b"; constants (and one-value choices) are not
        suggested but are in the population and in ``best_params``.
      objective: the metric of ``evaluate`` to optimize, at the last evaluation.
      trials: finished trials the study should hold at the end, counting those it held
        before (so a rerun resumes).
      batch_size: trials per round, trained together.
      sampler: an Optuna sampler (default ``TPESampler(seed=seed, constant_liar=True)``).
      pruner: an Optuna pruner (default: none).
      study: an existing Optuna study to continue; then leave ``storage``, ``sampler``
        and ``pruner`` unset (the study has its own), and ``direction`` must match it.
      storage: None (in memory), a file path (an SQLite database there) or an Optuna
        storage URL. An existing study named ``study_name`` in it is loaded. A path
        that cannot be an SQLite file (`check_storage`) and a storage the backend
        cannot open are a `ValueError` naming it, before any training.
      seed: the default sampler's seed, an integer in [0, 2**32 - 1] (`SEED_RANGE`).
      direction: "minimize" or "maximize".

    Returns:
      A `BayesResult`.
    """
    if not isinstance(specs, Mapping) or not specs:
        raise ValueError(f"specs must be a non-empty dict of specs, got {specs!r}")
    leaves = S._leaves(specs)  # ValueError naming any entry that is not a spec or number
    trials = _checks.count("trials", trials, 1)
    batch_size = _checks.count("batch_size", batch_size, 1)
    if direction not in ("minimize", "maximize"):
        raise ValueError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if study is None and sampler is None:
        low, high = SEED_RANGE
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer in [{low}, 2**32 - 1], got {seed!r}")
        if not low <= seed <= high:
            raise ValueError(f"seed must be in [{low}, 2**32 - 1] (TPE's), got {seed}")
    if study is None:
        check_storage(storage)
    _check_objective(init, evaluate, specs, objective)
    optuna = _import_optuna()
    from optuna.trial import TrialState

    if study is None:
        study = _open_study(
            optuna,
            storage,
            sampler=sampler or optuna.samplers.TPESampler(seed=seed, constant_liar=True),
            pruner=pruner or optuna.pruners.NopPruner(),
            study_name=study_name,
            direction=direction,
            load_if_exists=True,
        )
    elif storage is not None or sampler is not None or pruner is not None:
        raise ValueError("pass either study or storage/sampler/pruner, not both")
    if study.direction.name.lower() != direction:
        raise ValueError(
            f"direction {direction!r} does not match the study's {study.direction.name.lower()!r}"
        )

    names = ["/".join(map(str, path)) for path, _ in leaves]
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        optuna.trial.Trial(study, t._trial_id).set_user_attr("fail_reason", _ABANDONED)
        study.tell(t.number, state=TrialState.FAIL)

    rounds, sweeps = [], []
    while (remaining := trials - len(study.get_trials(deepcopy=False, states=done))) > 0:
        t0 = time.perf_counter()
        k = min(batch_size, remaining)
        asked = [study.ask() for _ in range(k)]
        columns = []
        for name, (_, spec) in zip(names, leaves, strict=True):
            if S._is_constant(spec):
                values = spec.from_unit(np.zeros(k))
            else:
                values = np.asarray([_suggest(t, name, spec) for t in asked])
            values = np.concatenate([values, np.repeat(values[-1:], batch_size - k)])
            columns.append(S._to_jax(values, spec))
        hp = S._rebuild(specs, iter(columns))
        result = run(
            init,
            step,
            hp,
            batches,
            steps=steps,
            evaluate=evaluate,
            eval_every=eval_every,
            score=objective,
            mode=direction[:3],  # "minimize" -> "min", "maximize" -> "max"
            chunk_size=chunk_size,
            mesh=mesh,
        )
        curves = np.asarray(result.evals[objective], np.float64)[:k]
        for trial, curve in zip(asked, curves, strict=True):
            _tell(study, trial, curve, result.eval_steps, TrialState)
        rounds.append(time.perf_counter() - t0)
        sweeps.append(_first(result, k))
    return _result(study, leaves, names, direction, rounds, TrialState)._replace(sweeps=sweeps)


def _first(result: SweepResult, k: int) -> SweepResult:
    """The first ``k`` members of a sweep's result (a round without its padding)."""
    return result.select(slice(0, k))


def _tell(study, trial, curve: np.ndarray, eval_steps: np.ndarray, TrialState) -> None:
    final = float(curve[-1])
    trial.set_user_attr("final_value", final)
    for value, at in zip(curve, eval_steps, strict=True):
        if not np.isfinite(value):
            continue
        trial.report(float(value), int(at))
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return
    if np.isfinite(final):
        study.tell(trial, final)
    else:
        trial.set_user_attr("fail_reason", f"objective is {final}")
        study.tell(trial, state=TrialState.FAIL)


def _result(study, leaves, names, direction, rounds, TrialState) -> BayesResult:
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    finished = sorted(study.get_trials(deepcopy=False, states=done), key=lambda t: t.number)
    history = np.asarray(
        [t.value if t.state == TrialState.COMPLETE else np.nan for t in finished], np.float64
    )
    accumulate = np.fmin if direction == "minimize" else np.fmax
    best_so_far = accumulate.accumulate(history) if len(history) else history
    complete = [t for t in finished if t.state == TrialState.COMPLETE]
    if not complete:
        return BayesResult(study, {}, float("nan"), history, best_so_far, rounds)
    best = study.best_trial
    params = {
        name: best.params[name] if name in best.params else spec.from_unit(np.zeros(1))[0].item()
        for name, (_, spec) in zip(names, leaves, strict=True)
    }
    return BayesResult(study, params, float(best.value), history, best_so_far, rounds)
