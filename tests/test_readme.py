"""The README's Python blocks run as written, in order, in one namespace."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_code_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    losses = np.asarray(namespace["final_losses"])
    assert losses.shape == (12,)
    assert np.all(np.isfinite(losses)) and losses.min() < 1e-3
    assert namespace["s"].momentum is not None
    applied = namespace["lrjax"].applied_lr(namespace["state"])
    np.testing.assert_allclose(applied, namespace["onecycle"](2), rtol=1e-6)
    result = namespace["result"]
    assert result.losses.shape == (32, 64) and np.isfinite(result.losses).all()
    assert result.losses[:, -1].min() < 1e-3 * result.losses[:, 0].min()
    warm = result.hparams["warmup"] > 0
    np.testing.assert_allclose(result.lrs[warm, 0], 0.0)  # a warmup starts at 0...
    assert result.lrs.max(axis=1) == pytest.approx(result.hparams["peak"], rel=1e-5)  # ...to peak
