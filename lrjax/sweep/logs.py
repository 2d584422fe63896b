"""What a sweep tells the host while it runs: one `Segment` record per segment of steps.

`lrjax.sweep.run`, `successive_halving`, `pbt` and `run_train` call ``callback(segment)``
on the host after every segment (every chunk, for `run_train`), on every process of a
`jax.distributed` run, with every member's results gathered. The writers below are such
callbacks; they write only in process 0 (in the others a call does nothing), open their
files at the first write, flush after every segment, and close as context managers::

    with JSONLines("out/sweep.jsonl") as lines, TensorBoard("out/tb") as tb:
        result = lrjax.sweep.run(..., callback=chain(lines, tb))

`JSONLines` keeps everything; `CSVLog` is one row per member and step; `TensorBoard`
(optional ``tensorboardX``) is one run per member.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np


class Segment(NamedTuple):
    """The results of one segment of a sweep, for the members it trained.

    search: "run", "halving", "pbt" or "train" (the whole-program form).
    start, stop: the steps the segment covered, ``start .. stop - 1`` (for "train":
      0 and the length of the metrics' first axis, or 1 for scalar metrics).
    members: (m,) the population index of each row below (for "pbt": the slot; its
      hyperparameters may change between segments, as `hparams` shows).
    hparams: name -> (m,) the rows' hyperparameters during the segment ("/"-joined names).
    metrics: name -> (m, stop - start) per-step metrics (for "train": ``train``'s
      outputs, (m, ...)).
    lrs: (m, stop - start) the learning rate each step applied (NaN where the carry holds
      no lrjax rate or parameter groups; empty for "train").
    group_lrs: group label -> (m, stop - start) each parameter group's rate.
    evals: name -> (m,) the evaluation after the segment (empty without one).
    score, mode: the sweep's score metric and its direction ("min" or "max").
    """

    search: str
    start: int
    stop: int
    members: np.ndarray
    hparams: dict[str, np.ndarray]
    metrics: dict[str, np.ndarray]
    lrs: np.ndarray
    group_lrs: dict[str, np.ndarray]
    evals: dict[str, np.ndarray]
    score: str
    mode: str


def chain(*callbacks: Callable[[Segment], Any]) -> Callable[[Segment], None]:
    """One callback that hands each segment to every one of ``callbacks`` in turn, e.g.
    ``callback=chain(JSONLines("sweep.jsonl"), TensorBoard("runs"))``."""

    def call(segment: Segment) -> None:
        for callback in callbacks:
            callback(segment)

    return call


def _plain(a: Any) -> Any:
    """An array as Python numbers and nested lists, non-finite floats as None (strict JSON)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = np.where(np.isfinite(a), a.astype(object), None)
    return a.tolist()


class _Writer:
    """A callback that writes in process 0 only (every process calls it; one writes) and
    closes as a context manager: ``with JSONLines(path) as log: run(..., callback=log)``."""

    def __call__(self, segment: Segment) -> None:
        if jax.process_index() == 0:
            self._write(segment)

    def _write(self, segment: Segment) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _File(_Writer):
    """A text file opened at the first write, so that other processes never create it."""

    def __init__(self, path: str | os.PathLike, append: bool = False):
        self.path, self.append, self.file = Path(path), append, None

    def _open(self):
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a" if self.append else "w", newline="")
        return self.file

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file, self.append = None, True  # a later call continues the file


class JSONLines(_File):
    """Writes one JSON object per member per segment, a line each, flushed after every
    segment (so ``tail -f`` shows progress)::

        {"search": "run", "member": 3, "start": 0, "stop": 100,
         "hparams": {"peak": 0.003}, "metrics": {"loss": [2.3, ...]}, "lr": [0.0, ...],
         "group_lrs": {"head": [...]}, "evals": {"loss": 0.41}}

    "metrics", "lr" and each group rate hold one value per step (for "train": ``train``'s
    output for the member, of any shape). The JSON is strict: NaN and infinities become
    ``null``. The file is overwritten at the first write unless ``append=True`` (to
    continue a resumed sweep's log); a call after `close` continues it.
    """

    def _write(self, s: Segment) -> None:
        file = self._open()
        for j, member in enumerate(s.members):
            row = {
                "search": s.search,
                "member": int(member),
                "start": int(s.start),
                "stop": int(s.stop),
                "hparams": {k: _plain(v[j]) for k, v in s.hparams.items()},
                "metrics": {k: _plain(v[j]) for k, v in s.metrics.items()},
                "lr": _plain(s.lrs[j]),
                "group_lrs": {k: _plain(v[j]) for k, v in s.group_lrs.items()},
                "evals": {k: _plain(v[j]) for k, v in s.evals.items()},
            }
            file.write(json.dumps(row, allow_nan=False) + "\n")
        file.flush()


class CSVLog(_File):
    """Writes one CSV row per member per step, flushed after every segment.

    Columns: ``search, member, step``, each hyperparameter as ``hp/<name>`` (as in
    TensorBoard, so a hyperparameter named "lr" is not the applied rate), each metric,
    ``lr`` (the rate applied), each group's rate as ``lr/<label>``, and each evaluation
    as ``eval/<name>``, filled on the segment's last step only. A metric of shape (m,)
    (a "train" output) fills every row of its member; a "train" output of rank above 2
    (m, T, ...) has no column (use `JSONLines`). Cells are empty where a value is
    absent; NaN is written ``nan``.

    The header is the first segment's columns. A later segment may lack some (empty
    cells) but cannot bring new ones: that raises ``ValueError``. With ``append=True`` an
    existing file is continued under its own header.
    """

    def __init__(self, path: str | os.PathLike, append: bool = False):
        super().__init__(path, append)
        self.writer = None

    def _write(self, s: Segment) -> None:
        n = s.stop - s.start
        metrics = {k: v for k, v in s.metrics.items() if np.ndim(v) <= 2}
        rates = {"lr": s.lrs, **{f"lr/{k}": v for k, v in s.group_lrs.items()}}
        evals = {f"eval/{k}": v for k, v in s.evals.items()}
        hparams = {f"hp/{k}": v for k, v in s.hparams.items()}
        columns = ["search", "member", "step", *hparams, *metrics, *rates, *evals]
        per_step = {**metrics, **rates}
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"CSVLog: column {repeated[0]!r} would be filled twice; rename it")
        if self.writer is None:
            self.writer = self._start(columns)
        new = [c for c in columns if c not in self.writer.fieldnames]
        if new:
            raise ValueError(
                f"CSVLog: column(s) {new} are not in the header {self.writer.fieldnames} written "
                "by the first segment (a CSV file cannot grow columns); log to a new file"
            )
        for j, member in enumerate(s.members):
            fixed = {k: v[j] for k, v in hparams.items()}
            for i in range(n):
                row = {"search": s.search, "member": member, "step": s.start + i, **fixed}
                for k, v in per_step.items():
                    if np.ndim(v) == 1:
                        row[k] = v[j]
                    elif i < np.shape(v)[1]:
                        row[k] = v[j, i]
                if i == n - 1:
                    row.update({k: v[j] for k, v in evals.items()})
                self.writer.writerow(row)
        self.file.flush()

    def _start(self, columns: list[str]) -> csv.DictWriter:
        header = None
        if self.append and self.path.exists() and self.path.stat().st_size:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f))
        writer = csv.DictWriter(self._open(), header or columns, restval="")
        if header is None:
            writer.writeheader()
        return writer

    def close(self) -> None:
        super().close()
        self.writer = None


class TensorBoard(_Writer):
    """Writes a TensorBoard run per member, ``logdir/member-0007`` and so on, with
    ``tensorboardX`` (``pip install 'lrjax[tensorboard]'``); view with
    ``tensorboard --logdir <logdir>``.

    Each run holds, at the global step:

    - ``train/<name>``: each per-step metric at its step (a (m,) "train" output at
      ``stop``; "train" outputs of rank above 2 are not written);
    - ``lr`` and ``lr/<label>`` per parameter group, where finite;
    - ``eval/<name>``: each evaluation at the segment's ``stop``;
    - ``hp/<name>``: each numeric hyperparameter at every segment's ``start`` (PBT's
      changes show as steps);
    - the text ``hparams``, a table of the member's hyperparameters when it first appears,
      and the same values for TensorBoard's HParams dashboard (its values at the first
      appearance; the dashboard lists ``train/*`` and ``eval/*`` as its metrics).

    Writers flush after every segment, so TensorBoard shows a sweep while it runs (events
    reach the file within about a second: tensorboardX writes from a thread). Each
    member keeps an open event file and a writer thread until `close`. A sweep resumed
    from a checkpoint writes new event files into the same runs; the segments after the
    last checkpoint are trained and written again, with the same values.
    """

    def __init__(self, logdir: str | os.PathLike):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError(
                "TensorBoard logging needs tensorboardX: pip install 'lrjax[tensorboard]'"
            ) from e
        self.logdir, self.SummaryWriter, self.writers = Path(logdir), SummaryWriter, {}

    def _write(self, s: Segment) -> None:
        for j, member in enumerate(s.members):
            # float(str(x)): float32's shortest digits, 0.1 rather than 0.10000000149011612
            hparams = {
                k: float(str(v[j])) if v.dtype.kind == "f" else v[j].item()
                for k, v in s.hparams.items()
            }
            w = self.writers.get(int(member))
            if w is None:
                w = self.writers[int(member)] = self._first(int(member), hparams, s)
            for k, v in hparams.items():
                if isinstance(v, (int, float)):
                    w.add_scalar(f"hp/{k}", v, s.start)
            for k, v in s.metrics.items():
                if np.ndim(v) == 1:
                    w.add_scalar(f"train/{k}", v[j], s.stop)
                elif np.ndim(v) == 2:
                    for i, x in enumerate(v[j]):
                        w.add_scalar(f"train/{k}", x, s.start + i)
            for tag, rates in [("lr", s.lrs), *((f"lr/{k}", v) for k, v in s.group_lrs.items())]:
                for i, x in enumerate(rates[j]):
                    if np.isfinite(x):
                        w.add_scalar(tag, x, s.start + i)
            for k, v in s.evals.items():
                w.add_scalar(f"eval/{k}", v[j], s.stop)
            w.flush()

    def _first(self, member: int, hparams: dict[str, Any], s: Segment):
        """A member's writer, with its hyperparameters as text and for the HParams plugin."""
        from tensorboardX.summary import hparams as hparams_summaries

        # tensorboardX names event files by the second: a resumed sweep's writer, opened
        # within the same second, would overwrite the interrupted one's file
        suffix = f".{os.getpid()}.{time.time_ns()}"
        w = self.SummaryWriter(
            str(self.logdir / f"member-{member:04d}"), flush_secs=1, filename_suffix=suffix
        )
        table = "\n".join(f"| {k} | {v} |" for k, v in hparams.items())
        w.add_text("hparams", "| hyperparameter | value |\n|---|---|\n" + table, s.start)
        tags = [f"train/{k}" for k, v in s.metrics.items() if np.ndim(v) <= 2]
        tags += [f"eval/{k}" for k in s.evals]
        # The metric values are unused: the dashboard reads these tags' scalars.
        for summary in hparams_summaries(hparams, dict.fromkeys(tags, 0.0)):
            w.file_writer.add_summary(summary)
        return w

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers = {}
