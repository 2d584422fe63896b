"""Checkpoints of a running sweep with `orbax-checkpoint` (``pip install lrjax[checkpoint]``).

A search's progress is a plain tree of host values: the members' carries (their arrays),
their hyperparameters, the results recorded so far, counters, a PRNG key. `Checkpoints`
saves such a tree every few segments: its arrays through orbax's ``StandardSave``
(exact, so a resumed sweep continues bitwise), its skeleton (lists, dicts, numbers,
strings, and where each array goes) as JSON. PRNG key arrays are saved as their key
data; arrays of zero size, which orbax refuses, are kept in the skeleton. Only process 0
writes (orbax coordinates the processes of a `jax.distributed` run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_INSTALL = "pip install 'lrjax[checkpoint]' (orbax-checkpoint)"


def encode(tree: Any, arrays: dict[str, np.ndarray]) -> Any:
    """`tree` as a JSON skeleton; its non-empty arrays go into `arrays` under new keys."""
    if isinstance(tree, dict):
        return {"dict": {str(k): encode(v, arrays) for k, v in tree.items()}}
    if isinstance(tree, (list, tuple)):
        return {"list": [encode(v, arrays) for v in tree]}
    if isinstance(tree, jax.Array) and jnp.issubdtype(tree.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(tree))
        return {"key": encode(np.asarray(jax.random.key_data(tree)), arrays), "impl": impl}
    if isinstance(tree, (np.ndarray, np.generic, jax.Array)):
        value = np.asarray(tree)
        if value.size == 0:
            return {"empty": list(value.shape), "dtype": value.dtype.str}
        name = f"a{len(arrays)}"
        arrays[name] = value
        return {"array": name}
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return {"value": tree}
    raise TypeError(f"checkpoint: cannot save a {type(tree).__name__}")


def decode(skeleton: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The tree `encode` took apart (tuples come back as lists)."""
    if "dict" in skeleton:
        return {k: decode(v, arrays) for k, v in skeleton["dict"].items()}
    if "list" in skeleton:
        return [decode(v, arrays) for v in skeleton["list"]]
    if "key" in skeleton:
        return jax.random.wrap_key_data(decode(skeleton["key"], arrays), impl=skeleton["impl"])
    if "array" in skeleton:
        return np.asarray(arrays[skeleton["array"]])
    if "empty" in skeleton:
        return np.zeros(skeleton["empty"], np.dtype(skeleton["dtype"]))
    return skeleton["value"]


class Checkpoints:
    """The checkpoints of one sweep in `directory` (the newest `keep` are kept)."""

    def __init__(self, directory: str | Path, keep: int = 2):
        try:
            import orbax.checkpoint as ocp
        except ImportError as e:
            raise ImportError(f"sweep checkpoints need orbax-checkpoint: {_INSTALL}") from e
        self._ocp = ocp
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, index: int, state: Any) -> None:
        """Save `state` (a tree of host values) as checkpoint number `index`."""
        ocp, arrays = self._ocp, {}
        skeleton = encode(state, arrays)
        args = ocp.args.Composite(
            arrays=ocp.args.StandardSave(arrays), skeleton=ocp.args.JsonSave(skeleton)
        )
        self._manager.save(index, args=args, force=True)
        self._manager.wait_until_finished()

    def latest(self) -> Any | None:
        """The newest saved state, or None when there is none."""
        index = self._manager.latest_step()
        if index is None:
            return None
        ocp = self._ocp
        args = ocp.args.Composite(
            arrays=ocp.args.StandardRestore(), skeleton=ocp.args.JsonRestore()
        )
        restored = self._manager.restore(index, args=args)
        return decode(restored["skeleton"], restored["arrays"])

    def close(self) -> None:
        self._manager.close()


def open_checkpoints(checkpoint: str | Path | None, resume: bool, fingerprint: dict):
    """The sweep's `Checkpoints` and the state to resume from (None: start afresh)."""
    if checkpoint is None:
        if resume:
            raise ValueError("resume=True needs checkpoint=<folder> to resume from")
        return None, None
    saved = Checkpoints(checkpoint)
    state = saved.latest()
    if state is not None and not resume:
        raise ValueError(
            f"checkpoint folder {str(checkpoint)!r} holds a sweep's checkpoint; pass "
            "resume=True to continue it, or choose an empty folder"
        )
    if state is not None and not _same(state["fingerprint"], fingerprint):
        raise ValueError(
            f"the checkpoint in {str(checkpoint)!r} is of another sweep (its population, "
            "steps, segments, chunks, devices or hyperparameters differ)"
        )
    return saved, state


def _same(a: Any, b: Any) -> bool:
    """Equal fingerprints: the same keys, numbers and arrays."""
    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
