"""A sweep over two processes (jax.distributed on 127.0.0.1, 2 forced host devices each,
gloo collectives) equals the same sweep in one process, to rounding; only process 0
writes files. The two processes are real ones, started here and bounded by a timeout."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("orbax.checkpoint")
WORKER = Path(__file__).parent / "multiprocess" / "sweep_worker.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("two")
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(i), port, str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    try:
        logs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
    return out


def test_two_processes_equal_one(two_processes):
    sys.path.insert(0, str(WORKER.parent))
    try:
        from sweep_worker import sweeps
    finally:
        sys.path.pop(0)
    alone = sweeps()
    both = dict(np.load(two_processes / "results.npz"))
    assert set(both) == set(alone)
    for name, value in alone.items():
        # Other shards are other batched shapes: XLA may round differently (float32).
        np.testing.assert_allclose(both[name], value, rtol=2e-5, atol=1e-7, err_msg=name)


def test_only_process_zero_writes(two_processes):
    lines = (two_processes / "segments.jsonl").read_text().splitlines()
    assert len(lines) == 7 * 5  # 7 members x 5 segments, written once, not twice
    steps = sorted(
        int(p.name) for p in (two_processes / "checkpoint").iterdir() if p.name.isdigit()
    )
    assert steps and steps[-1] == 10  # 2 chunks x 5 segments
    assert len(json.loads((two_processes / "result.json").read_text())["rows"]) == 7
