"""One process of the two-process sweep test (tests/test_sweep_multiprocess.py).

Run as ``python sweep_worker.py PROCESS_ID PORT OUT``: it joins a `jax.distributed` job
of two processes on 127.0.0.1 (each with 2 forced host devices, gloo collectives), runs
the sweeps of `sweeps()` over all 4 devices and saves their results in OUT (process 0
only: it also checks that process 1 wrote nothing). Imported, it only defines the
problem, so the test computes the single-process sweeps from the same code.
"""

import os
import sys
from pathlib import Path

import numpy as np


def sweeps(out: Path | None = None) -> dict[str, np.ndarray]:
    """The sweeps both layouts run, flattened to named host arrays."""
    import jax
    import jax.numpy as jnp
    import optax

    import lrjax
    from lrjax import sweep
    from lrjax.sweep import logs

    x = jax.random.normal(jax.random.key(0), (96, 4))
    y = x @ jnp.array([1.0, -2.0, 3.0, 0.5])
    batches = {"x": x.reshape(24, 4, 4), "y": y.reshape(24, 4)}

    def opt(hp):
        return lrjax.adam(lrjax.schedules.cosine_decay(hp["lr"], 24))

    def init(hp):
        w = jnp.zeros(4)
        return w, opt(hp).init(w)

    def step(carry, batch, hp):
        w, state = carry
        loss, g = jax.value_and_grad(lambda w: jnp.mean((batch["x"] @ w - batch["y"]) ** 2))(w)
        u, state = opt(hp).update(g, state, w)
        return (optax.apply_updates(w, u), state), loss

    def evaluate(carry, hp):
        return {"mse": jnp.mean((x @ carry[0] - y) ** 2)}

    def train(hp):
        def body(carry, batch):
            return step(carry, batch, hp)

        _, losses = jax.lax.scan(body, init(hp), batches)
        return {"loss": losses}

    hp = {"lr": jnp.asarray(np.geomspace(1e-3, 0.3, 7), jnp.float32)}  # 7: padded to 8
    callback = None if out is None else logs.JSONLines(out / "segments.jsonl")
    checkpoint = None if out is None else out / "checkpoint"
    ran = sweep.run(
        init, step, hp, batches, evaluate=evaluate, eval_every=5, chunk_size=5,
        callback=callback, checkpoint=checkpoint,
    )  # fmt: skip
    halving = sweep.successive_halving(init, step, hp, batches, rungs=[6, 12, 24])
    pbt = sweep.pbt(init, step, hp, batches, ready_every=6, seed=3)
    whole = sweep.run_train(train, hp, chunk_size=3)
    if out is not None:  # every process calls it; process 0 writes
        ran.to_json(out / "result.json")
    return {
        "run_losses": ran.losses,
        "run_lrs": ran.lrs,
        "run_mse": ran.evals["mse"],
        "halving_best": np.asarray(halving.best),
        "halving_scores": np.concatenate(halving.scores),
        "pbt_scores": np.stack(pbt.scores),
        "pbt_lr": np.asarray(pbt.final_hparams["lr"]),
        "train_loss": whole.metrics["loss"],
    }


def main(process: int, port: str, out: Path) -> None:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=2,
        process_id=process,
        initialization_timeout=60,
    )
    assert jax.device_count() == 4 and jax.local_device_count() == 2
    results = sweeps(out)
    if process == 0:
        np.savez(out / "results.npz", **results)
    jax.distributed.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
