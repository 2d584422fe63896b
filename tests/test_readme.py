"""The README's Python blocks run as written, in order, in one namespace, and do what
their comments say."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_code_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1 and len(blocks[0].strip().splitlines()) <= 12  # a short quickstart
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    lrjax = namespace["lrjax"]
    assert float(lrjax.applied_lr(namespace["state"])) == 0.0  # the first warmup step
    np.testing.assert_allclose(namespace["peaks"], [0.05, 0.1], rtol=1e-6)  # half the peaks
    np.testing.assert_array_equal(namespace["params"]["w"], 0.0)  # a zero rate moved nothing


def test_readme_links_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (README.parent / target).exists(), target
