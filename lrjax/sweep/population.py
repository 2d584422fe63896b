"""Where a population lives: its devices, its padding, and the way back to the host.

Both forms of a sweep (a member's ``init``/``step``/``evaluate``, or one whole
``train(hp)``) use this one layout. The population axis is sharded over a one-axis
`Mesh` named ``"population"`` that spans every device of every process
(`jax.distributed`); a population that does not divide the device count is padded with
copies of its last member, whose results are dropped; a population too large for memory
is trained in chunks. Every process builds the same host arrays (the hyperparameters,
the batches) and places its own shards of them; results are gathered to every process
(`multihost_utils.process_allgather`), and only process 0 writes files
(`is_writer`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def population_mesh() -> Mesh:
    """A one-axis mesh named "population" over all devices of all processes."""
    return Mesh(np.array(jax.devices()), ("population",))


def is_writer() -> bool:
    """True in the one process that writes files (process 0)."""
    return jax.process_index() == 0


def to_host(x: Any) -> Any:
    """A host copy of `x`: a NumPy array, or a NumPy copy of a PRNG key array's data
    re-wrapped as keys (`np.asarray` refuses key arrays)."""
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(np.asarray(jax.random.key_data(x)))
    return np.asarray(x)


class Layout:
    """The population's placement on `mesh` (default: every device of every process)."""

    def __init__(self, mesh: Mesh | None = None):
        self.mesh = population_mesh() if mesh is None else mesh
        self.devices = int(self.mesh.devices.size)
        self.sharded = NamedSharding(self.mesh, PartitionSpec("population"))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.local = all(d.process_index == jax.process_index() for d in self.mesh.devices.flat)

    def padded(self, size: int) -> int:
        """`size` rounded up to a multiple of the device count."""
        return size + (-size % self.devices)

    def place(self, tree: Any) -> Any:
        """A host pytree with a leading population axis (already padded), sharded along
        that axis; each process supplies its own shards."""
        return jax.tree.map(lambda x: self._put(x, self.sharded), tree)

    def replicate(self, tree: Any) -> Any:
        """A host pytree (batches, shared by every member) copied to every device."""
        return jax.tree.map(lambda x: self._put(x, self.replicated), tree)

    def _put(self, x: Any, sharding: NamedSharding) -> jax.Array:
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = self._put(jax.random.key_data(x), sharding)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        if self.local:
            return jax.device_put(x, sharding)
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def gather(self, tree: Any, size: int | None = None) -> Any:
        """A population pytree back on the host, as NumPy arrays, with the padding (rows
        from ``size`` on) dropped; across processes every process gets every row."""
        if not self.local:
            tree = multihost_utils.process_allgather(tree, tiled=True)
        return jax.tree.map(lambda x: to_host(x)[:size], tree)


def rows_of(tree: Any, start: int, stop: int) -> Any:
    """The rows ``start:stop`` of every leaf's leading axis."""
    return jax.tree.map(lambda x: x[start:stop], tree)


def pad(tree: Any, size: int) -> Any:
    """Rows repeated from the last one up to `size` rows (host arrays), so the population
    shards evenly; the extra members' results are dropped."""

    def grow(x):
        x = np.asarray(x) if not isinstance(x, jax.Array) else x
        extra = size - x.shape[0]
        if extra == 0:
            return x
        return jnp.concatenate([x, jnp.repeat(x[-1:], extra, 0)])

    return jax.tree.map(grow, tree)


def chunks(population: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each chunk of at most `chunk_size` members."""
    for start in range(0, population, chunk_size):
        yield start, min(population, start + chunk_size)
