"""Do successive halving and PBT beat random search at equal compute, on the digits MLP?

    python examples/digits_search.py [--members 8 32] [--steps 360] [--seeds 5] [--eta 3]
                                     [--quick]

The task is `lrjax.sweep.digits` (a 64-64-10 tanh MLP on scikit-learn's digits, batches
of 64; every member starts from the same weights and sees the same batches). The search
space: the optimizer (sgd, momentum 0.9, adam), the schedule family (constant, cosine,
warmup_cosine, one_cycle, each over the full run of ``--steps`` T steps) and the peak
rate, log-uniform on [1e-4, 1]. Every method samples with `lrjax.sweep.space.random` and
the same seed, so for one seed the random search and PBT start from the same N members
and successive halving's larger pool begins with them too (the first m members of a
sample do not depend on its size); the comparison is paired.

Compute is counted in member-steps (one member, one training step); the validation
evaluations used for selection are not counted (a forward pass over 359 rows, at most
once per member per rung or PBT segment).

- random search: N members trained T steps each (budget N T); the winner has the lowest
  validation loss at the end.
- successive halving (`lrjax.sweep.search.successive_halving`), eta = 3: rungs ending at
  T/9, T/3, T steps, the best third by validation loss kept at each rung, their state
  carried on; the initial population is the largest whose budget does not exceed N T.
  The winner is the best at the last rung. (``--eta 2``: rungs T/8, T/4, T/2, T, keep
  half.)
- PBT (`lrjax.sweep.search.pbt`): N members (budget N T), exploit/explore every T/10
  steps by validation loss: the worst 25% copy the state and hyperparameters of members
  drawn from the best 25%, then the copied peak rate is multiplied by 0.8 or 1.25 (the
  optimizer and schedule-family indices are integers: copied, never perturbed, which the
  script checks). The winner is the member with the lowest validation loss at the end;
  its hyperparameters are a schedule over time, reconstructed here from the per-segment
  hyperparameters.

Reported for each method's winner: its hyperparameters, validation loss, and test loss
and accuracy of its final weights on the held-out test split (random search: evaluated
for every member during the sweep and read off for the winner; halving: the winner
retrained from scratch on the same batches, which reproduces its carried-over training;
PBT: the winner's final carry). Over ``--seeds`` seeds (different samples, same data):
per-seed numbers, mean and standard deviation, and the paired differences from random
search. Needs the ``demo`` extra (scikit-learn).
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from lrjax.sweep import digits, run, space
from lrjax.sweep.search import exploit_explore, pbt, successive_halving

SCHEDULES = ("constant", "cosine", "warmup_cosine", "one_cycle")
OPTIMIZERS = ("sgd", "momentum", "adam")
SPACE = {
    "family": space.choice(list(range(len(SCHEDULES)))),
    "optimizer": space.choice(list(range(len(OPTIMIZERS)))),
    "peak": space.log_uniform(1e-4, 1.0),
}
PBT_FRACTION = 0.25
PBT_FACTORS = (0.8, 1.25)
METHODS = ("random", "halving", "pbt")


def rungs_for(steps: int, eta: int) -> list[int]:
    """Rungs ending at T / eta^k, ..., T / eta, T (min resource T/9 for eta 3, T/8 for 2)."""
    count = {2: 4, 3: 3}[eta]
    return [max(1, steps // eta**k) for k in range(count - 1, -1, -1)]


def halving_budget(n: int, rungs: list[int], keep: float) -> int:
    """Member-steps of successive halving from n members (survivors as `successive_halving`
    counts them: ``max(1, int(alive * keep))``)."""
    total, alive, start = 0, n, 0
    for stop in rungs:
        total += alive * (stop - start)
        alive, start = max(1, int(alive * keep)), stop
    return total


def halving_members(budget: int, rungs: list[int], keep: float) -> int:
    """The largest initial population whose halving budget is at most `budget`."""
    fits = [n for n in range(1, 20 * budget // rungs[-1] + 1) if halving_budget(n, rungs, keep)]
    return max(n for n in fits if halving_budget(n, rungs, keep) <= budget)


def describe(hp: dict, i: int) -> str:
    return (
        f"{OPTIMIZERS[int(hp['optimizer'][i])]}/{SCHEDULES[int(hp['family'][i])]} "
        f"peak {float(hp['peak'][i]):.2e}"
    )


def check_exploit_explore(hp: dict) -> None:
    """exploit_explore (default: perturb every name) copies the integer indices and
    multiplies only the float peak of the replaced members."""
    n = len(hp["peak"])
    scores = jnp.arange(n, dtype=jnp.float32)
    _, new, source = exploit_explore(
        jax.random.key(0), scores, jnp.arange(n), hp, fraction=PBT_FRACTION, factors=PBT_FACTORS
    )
    src = np.asarray(source)  # who each member copied
    assert new["family"].dtype == jnp.int32 and new["optimizer"].dtype == jnp.int32
    for name in ("family", "optimizer"):
        np.testing.assert_array_equal(new[name], np.asarray(hp[name])[src])
    ratio = np.asarray(new["peak"]) / np.asarray(hp["peak"])[src]
    replaced = src != np.arange(n)
    assert replaced.sum() == max(1, int(n * PBT_FRACTION))
    assert np.allclose(ratio[~replaced], 1.0)
    assert np.all(np.isclose(ratio[replaced], 0.8) | np.isclose(ratio[replaced], 1.25))


def pbt_lineage(result, winner: int, ready_every: int) -> list[str]:
    """The winner's hyperparameters over time, following `PBTResult.lineage` (the slot
    its state occupied in each segment) through the per-segment hyperparameters."""
    history, slots = result.hparams, result.lineage(winner)
    out, last = [], None
    for r, i in enumerate(slots):
        text = describe(history[r], i)
        if text != last:
            out.append(f"step {r * ready_every}: {text}")
            last = text
    return out


def search(task, test_eval, n: int, steps: int, eta: int, segments: int, seed: int) -> dict:
    def val_loss(carry, hp):
        return task.evaluate(carry, hp)["val_loss"]

    def evaluate(carry, hp):
        return task.evaluate(carry, hp) | test_eval(carry[0])

    budget = n * steps
    out = {"budget": {"random": budget, "pbt": budget}}
    t0 = time.perf_counter()

    # random search
    hp = space.random(SPACE, n, seed)
    res = run(task.init, task.step, hp, task.batches, evaluate=evaluate)
    val = np.nan_to_num(res.evals["val_loss"][:, -1], nan=np.inf)
    best = int(np.argmin(val))
    out["random"] = {
        "hp": describe(hp, best),
        "val_loss": float(val[best]),
        "test_loss": float(res.evals["test_loss"][best, -1]),
        "test_acc": 1 - float(res.evals["test_error"][best, -1]),
        "seconds": time.perf_counter() - t0,
    }

    # successive halving, same sampler, more members, same budget
    t0 = time.perf_counter()
    rungs, keep = rungs_for(steps, eta), 1 / eta
    n_h = halving_members(budget, rungs, keep)
    hp_h = space.random(SPACE, n_h, seed)
    res_h = successive_halving(
        task.init, task.step, hp_h, task.batches, rungs, keep=keep, score=val_loss
    )
    used = sum(
        len(alive) * (stop - start)
        for alive, start, stop in zip(res_h.survivors, [0, *rungs[:-1]], rungs, strict=True)
    )
    assert used == halving_budget(n_h, rungs, keep) <= budget
    out["budget"]["halving"] = used
    out["halving"] = {
        "hp": describe(hp_h, res_h.best),
        "hparams": {k: np.asarray(v)[res_h.best] for k, v in hp_h.items()},
        "val_loss": float(np.min(res_h.scores[-1])),
        "members": n_h,
        "rungs": rungs,
        "survivors": [len(s) for s in res_h.survivors],
        "seconds": time.perf_counter() - t0,
    }

    # PBT, same N members as the random search
    t0 = time.perf_counter()
    ready = max(1, steps // segments)
    res_p = pbt(
        task.init,
        task.step,
        hp,
        task.batches,
        ready_every=ready,
        seed=seed,
        fraction=PBT_FRACTION,
        factors=PBT_FACTORS,
        perturb=lambda name: name == "peak",
        score=val_loss,
    )
    final = jax.tree.map(np.asarray, res_p.final_hparams)
    pairs = set(zip(np.asarray(hp["family"]), np.asarray(hp["optimizer"]), strict=True))
    assert final["family"].dtype == np.int32 and final["optimizer"].dtype == np.int32
    assert set(zip(final["family"], final["optimizer"], strict=True)) <= pairs
    scores = np.nan_to_num(res_p.scores[-1], nan=np.inf)
    win = int(np.argmin(scores))
    params = jax.tree.map(lambda x: x[win], res_p.carry[0])
    metrics = {k: float(v) for k, v in test_eval(params).items()}
    out["pbt"] = {
        "hp": describe(final, win),
        "lineage": pbt_lineage(res_p, win, ready),
        "val_loss": float(scores[win]),
        "test_loss": metrics["test_loss"],
        "test_acc": 1 - metrics["test_error"],
        "ready_every": ready,
        "seconds": time.perf_counter() - t0,
    }
    return out


def retrain(task, test_eval, results: list[dict]) -> None:
    """Train every seed's halving winner from scratch (one vmapped run) and fill in its
    test numbers; its validation loss must reproduce the halving score."""

    def evaluate(carry, hp):
        return task.evaluate(carry, hp) | test_eval(carry[0])

    winners = [r["halving"]["hparams"] for r in results]
    hp = {k: jnp.asarray(np.stack([w[k] for w in winners])) for k in winners[0]}
    res = run(task.init, task.step, hp, task.batches, evaluate=evaluate)
    for i, r in enumerate(results):
        h = r["halving"]
        h["retrained_val_loss"] = float(res.evals["val_loss"][i, -1])
        h["test_loss"] = float(res.evals["test_loss"][i, -1])
        h["test_acc"] = 1 - float(res.evals["test_error"][i, -1])


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} +- {sd:.4f}"


def report(args, data, n: int, results: list[dict]) -> None:
    first = results[0]
    h = first["halving"]
    print(
        f"\n=== Budget {n} x {args.steps} = {first['budget']['random']} member-steps. "
        f"random: {n} members x {args.steps} steps; halving (eta {args.eta}): {h['members']} "
        f"members, rungs {h['rungs']}, alive {h['survivors']} = {first['budget']['halving']}; "
        f"PBT: {n} x {args.steps} = {first['budget']['pbt']} (exploit/explore every "
        f"{first['pbt']['ready_every']} steps, truncation {PBT_FRACTION:.0%}, peak x "
        f"{PBT_FACTORS})"
    )
    print(
        f"{'seed':>4s} {'method':8s} {'winner (final hyperparameters)':38s} {'val loss':>9s} "
        f"{'test loss':>9s} {'test acc':>8s} {'search s':>8s}"
    )
    for seed, r in enumerate(results):
        for m in METHODS:
            w = r[m]
            print(
                f"{seed:4d} {m:8s} {w['hp']:38s} {w['val_loss']:9.4f} {w['test_loss']:9.4f} "
                f"{w['test_acc']:8.4f} {w['seconds']:8.1f}"
            )
        print(f"{'':4s} {'':8s} PBT winner over time: {'; '.join(r['pbt']['lineage'])}")
        drift = abs(r["halving"]["retrained_val_loss"] / r["halving"]["val_loss"] - 1)
        if drift > 1e-3:
            print(
                f"{'':4s} {'':8s} note: halving winner retrained: val loss "
                f"{r['halving']['retrained_val_loss']:.4f} (rounding differences grow at large "
                "rates)"
            )

    print(f"Over {len(results)} seeds: mean +- std (sample std)")
    print(f"{'method':8s} {'val loss':>17s} {'test loss':>17s} {'test acc':>17s}")
    for m in METHODS:
        cols = [mean_std([r[m][k] for r in results]) for k in ("val_loss", "test_loss", "test_acc")]
        print(f"{m:8s} {cols[0]:>17s} {cols[1]:>17s} {cols[2]:>17s}")
    print(
        "Paired differences from random search (method - random), per seed, mean, and "
        "seeds better / same / worse\n(same: test loss within 5e-4, test accuracy equal; one "
        f"test example is {1 / len(data.y_test):.4f} of accuracy):"
    )
    for m in METHODS[1:]:
        for k in ("test_loss", "test_acc"):
            d = [r[m][k] - r["random"][k] for r in results]
            tol = 5e-4 if k == "test_loss" else 1e-6
            sign = -1 if k == "test_loss" else 1
            better = sum(sign * x > tol for x in d)
            worse = sum(sign * x < -tol for x in d)
            print(
                f"{m:8s} {k:9s} {' '.join(f'{x:+.4f}' for x in d)}  mean "
                f"{statistics.mean(d):+.4f}  {better} / {len(d) - better - worse} / {worse}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--members",
        type=int,
        nargs="+",
        default=[8, 32],
        help="random search / PBT sizes N, one budget N x T each",
    )
    parser.add_argument("--steps", type=int, default=360, help="training steps T")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--eta", type=int, choices=(2, 3), default=3)
    parser.add_argument("--pbt-segments", type=int, default=10, help="exploit every T/k steps")
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and short")
    args = parser.parse_args()
    if args.quick:
        args.members, args.steps, args.seeds = [8], 90, 2

    t_start = time.perf_counter()
    data = digits.load()
    task = digits.task(data, args.steps, schedules=SCHEDULES, optimizers=OPTIMIZERS)
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    def test_eval(params):
        return {
            "test_loss": digits.loss(params, x_test, y_test),
            "test_error": 1 - digits.accuracy(params, x_test, y_test),
        }

    check_exploit_explore(space.random(SPACE, 16, 0))
    print(
        f"digits MLP ({len(data.y_train)} train / {len(data.y_val)} val / "
        f"{len(data.y_test)} test), T = {args.steps} steps of batch 64; space: "
        f"{'/'.join(OPTIMIZERS)} x {'/'.join(SCHEDULES)} x peak log-uniform [1e-4, 1]; "
        f"{args.seeds} seeds.\nSelection score: validation loss, for all three methods. "
        "exploit_explore checked: integer indices copied, not perturbed.",
        flush=True,
    )
    compiled_test_eval = jax.jit(test_eval)
    for n in args.members:
        results = [
            search(task, compiled_test_eval, n, args.steps, args.eta, args.pbt_segments, seed)
            for seed in range(args.seeds)
        ]
        retrain(task, test_eval, results)
        report(args, data, n, results)
    print(f"\ntotal time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
