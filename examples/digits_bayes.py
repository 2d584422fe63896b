"""Does batched Bayesian optimization (`lrjax.sweep.bayes`: TPE, and Optuna's GP sampler
when torch is installed) beat random search on the digits MLP, and what does batching
the trials buy in wall time?

    python examples/digits_bayes.py [--members 32] [--steps 300] [--seeds 5]
                                    [--batch-size 8] [--timing 8 64] [--quick]

The task, search space and seeds are those of ``examples/digits_search.py`` (imported
from it): a 64-64-10 tanh MLP on scikit-learn's digits, the optimizer (sgd, momentum,
adam), the schedule family (constant, cosine, warmup_cosine, one_cycle) and the peak
rate, log-uniform on [1e-4, 1]. Every method is scored by validation loss at its last
step.

1. Equal numbers of trained settings N (one N per run, ``--members``):

   - random search: ``space.random(SPACE, N, seed)``, all N trained T steps with one
     `lrjax.sweep.run`; best final validation loss.
   - TPE: ``bayes.search(..., trials=N, batch_size=8, seed=seed)``, rounds of 8
     suggestions each trained T steps as one vmapped run; its ``best_value``.
   - GP (only when torch is importable): the same with
     ``sampler=optuna.samplers.GPSampler(seed=seed)`` (Optuna's defaults: 10 random
     startup trials, then a Gaussian process that also accounts for the trials of the
     round still running).
   - successive halving (``successive_halving``, keep 1/3, rungs T/9, T/3, T) from the
     same N members as the random search: it also tries N settings, but trains most of
     them only T/9 steps, so it spends fewer member-steps (printed); best validation loss
     at the last rung.

   Per seed, mean +- sample std over seeds, and the paired differences from random
   search (negative: better than random).

2. Wall time per round, for each K in ``--timing``: batched (one ``search`` call with
   trials = 3K, batch_size = K; the median seconds of rounds 2 and 3, after compilation,
   and that divided by K) against one trial at a time (batch_size = 1, trials = K; the
   median seconds per trial after the first, compiling, round). A round's seconds cover
   asking the sampler, training and telling.

Needs the ``demo`` extra (scikit-learn) and Optuna (``pip install 'lrjax[optuna]'``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import optuna
from digits_search import OPTIMIZERS, SCHEDULES, SPACE, halving_budget, rungs_for

from lrjax.sweep import bayes, digits, run, space
from lrjax.sweep.search import successive_halving

SAMPLERS = {
    "tpe": lambda seed: None,  # bayes.search's default: TPE with constant_liar=True
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
}
try:
    import torch  # noqa: F401  (Optuna's GP sampler needs it)
except ImportError:
    del SAMPLERS["gp"]
METHODS = ("random", *SAMPLERS, "halving")
KEEP = 1 / 3


def compare(task, n: int, steps: int, batch_size: int, seed: int) -> dict:
    def val_loss(carry, hp):
        return task.evaluate(carry, hp)["val_loss"]

    out = {}
    t0 = time.perf_counter()
    hp = space.random(SPACE, n, seed)
    res = run(task.init, task.step, hp, task.batches, evaluate=task.evaluate)
    val = np.nan_to_num(np.asarray(res.evals["val_loss"][:, -1]), nan=np.inf)
    out["random"] = {"val_loss": float(val.min()), "seconds": time.perf_counter() - t0}

    for name in METHODS:
        if name in SAMPLERS:
            t0 = time.perf_counter()
            b = bayesian(task, n, batch_size, seed, name)
            out[name] = {"val_loss": b.best_value, "seconds": time.perf_counter() - t0}

    t0 = time.perf_counter()
    rungs = rungs_for(steps, 3)
    res_h = successive_halving(
        task.init, task.step, hp, task.batches, rungs, keep=KEEP, score=val_loss
    )
    scores = np.nan_to_num(np.asarray(res_h.scores[-1]), nan=np.inf)
    out["halving"] = {
        "val_loss": float(scores.min()),
        "seconds": time.perf_counter() - t0,
        "rungs": rungs,
        "survivors": [len(s) for s in res_h.survivors],
        "budget": halving_budget(n, rungs, KEEP),
    }
    return out


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {sd:.4f}"


def report(n: int, steps: int, batch_size: int, results: list[dict]) -> None:
    h = results[0]["halving"]
    print(
        f"\n=== N = {n} settings tried by each method, T = {steps} steps. random: {n} x "
        f"{steps} = {n * steps} member-steps; {'/'.join(SAMPLERS).upper()}: {n} trials in "
        f"rounds of {batch_size}, {n * steps} member-steps; halving (keep 1/3): rungs "
        f"{h['rungs']}, alive {h['survivors']} = {h['budget']} member-steps "
        f"({h['budget'] / (n * steps):.0%} of the others)"
    )
    print(f"{'seed':>4s} " + " ".join(f"{m + ' val':>12s} {'s':>5s}" for m in METHODS))
    for seed, r in enumerate(results):
        cells = " ".join(f"{r[m]['val_loss']:12.4f} {r[m]['seconds']:5.1f}" for m in METHODS)
        print(f"{seed:4d} {cells}")
    print(f"Best validation loss over {len(results)} seeds: mean +- std (sample std)")
    for m in METHODS:
        print(f"  {m:8s} {mean_std([r[m]['val_loss'] for r in results]):>17s}")
    print("Paired differences from random search (method - random; negative is better):")
    for m in METHODS[1:]:
        d = [r[m]["val_loss"] - r["random"]["val_loss"] for r in results]
        better, worse = sum(x < -5e-4 for x in d), sum(x > 5e-4 for x in d)
        print(
            f"  {m:8s} {' '.join(f'{x:+.4f}' for x in d)}  mean {statistics.mean(d):+.4f}  "
            f"better / same (within 5e-4) / worse: {better} / {len(d) - better - worse} / "
            f"{worse}"
        )


def bayesian(
    task, trials: int, batch_size: int, seed: int, sampler: str = "tpe"
) -> bayes.BayesResult:
    """Batched Bayesian optimization over SPACE, scored by the final validation loss."""
    return bayes.search(
        task.init,
        task.step,
        SPACE,
        task.batches,
        evaluate=task.evaluate,
        objective="val_loss",
        trials=trials,
        batch_size=batch_size,
        seed=seed,
        sampler=SAMPLERS[sampler](seed),
    )


def timing(task, ks: list[int]) -> None:
    def go(trials: int, batch_size: int) -> list[float]:
        return bayesian(task, trials, batch_size, seed=0).rounds

    print(
        "\n=== Wall time (ask + train + tell): batched = rounds of K trials, median of rounds "
        "2-3;\none at a time = K rounds of 1 trial, median after the first round"
    )
    print(
        f"{'K':>4s} {'batched s/round':>16s} {'s/trial':>9s} {'1-at-a-time s/trial':>20s} "
        f"{'speedup':>8s}"
    )
    for k in ks:
        batched = statistics.median(go(3 * k, k)[1:3])
        single = statistics.median(go(k, 1)[1:])
        print(
            f"{k:4d} {batched:16.3f} {batched / k:9.4f} {single:20.4f} "
            f"{single / (batched / k):7.1f}x",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=32, help="settings tried, N")
    parser.add_argument("--steps", type=int, default=300, help="training steps T")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8, help="TPE trials per round")
    parser.add_argument("--timing", type=int, nargs="+", default=[8, 64], help="K values")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and short")
    args = parser.parse_args()
    if args.quick:
        args.members, args.steps, args.seeds, args.timing = 8, 60, 2, [4, 8]
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    t_start = time.perf_counter()
    data = digits.load()
    task = digits.task(data, args.steps, schedules=SCHEDULES, optimizers=OPTIMIZERS)
    print(
        f"digits MLP ({len(data.y_train)} train / {len(data.y_val)} val), T = {args.steps} "
        f"steps of batch 64; space: {'/'.join(OPTIMIZERS)} x {'/'.join(SCHEDULES)} x peak "
        f"log-uniform [1e-4, 1]; {args.seeds} seeds. Score: final validation loss.",
        flush=True,
    )
    results = [
        compare(task, args.members, args.steps, args.batch_size, seed) for seed in range(args.seeds)
    ]
    report(args.members, args.steps, args.batch_size, results)
    timing(task, args.timing)
    print(f"\ntotal time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
