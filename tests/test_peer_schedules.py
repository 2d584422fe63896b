"""Replay every peer schedule case (PyTorch, Keras, timm) through lrjax.compat.

Cases follow the protocol in shared/refs/peer_refs.json: ``lrs[k]`` is the rate the k-th
update uses, so ``s(k)`` must equal it. float64 to rtol 1e-10 as the contract; float32 to
the tolerance float32 allows.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from peer_cases import case_schedule, load_cases

CASES = load_cases("schedule")


def _checked_steps(case):
    steps = np.arange(case["n"])
    return np.setdiff1d(steps, np.asarray(case.get("ambiguous_steps", []), int))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_float64_matches_peer(case, x64):
    s = case_schedule(case)
    steps = _checked_steps(case)
    clean = s.schedule if "lrs_clean" in case else s
    want = np.asarray(case.get("lrs_clean", case["lrs"]))[steps]
    got = np.asarray(clean(jnp.asarray(steps)))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)
    if "momentums" in case:
        momentum = np.asarray(s.momentum(jnp.asarray(steps)))
        np.testing.assert_allclose(momentum, np.asarray(case["momentums"])[steps], rtol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_float32_matches_peer(case):
    if "lr_lambda" in str(case["params"]):
        pytest.skip("the reference lambdas run on the host in float64")
    s = case_schedule(case)
    steps = _checked_steps(case)
    clean = s.schedule if "lrs_clean" in case else s
    want = np.asarray(case.get("lrs_clean", case["lrs"]))[steps]
    got = np.asarray(clean(jnp.asarray(steps)))
    assert got.dtype == np.float32
    # A ChainedScheduler holding an affine CosineAnnealingLR is evaluated by replaying
    # torch's recursion, which accumulates float32 rounding over k steps (7.6e-5 at k=236).
    rtol = 2e-4 if case["scheduler"].endswith("ChainedScheduler") else 2e-5
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)))


NOISY = [c for c in CASES if "lrs_clean" in c]


@pytest.mark.parametrize("case", NOISY, ids=[c["name"] for c in NOISY])
def test_noise_follows_timm_law(case, x64):
    """The draws differ from torch's generator, but where and how much noise applies match."""
    s = case_schedule(case)
    steps = np.arange(case["n"])
    clean = np.asarray(case["lrs_clean"])
    got = np.asarray(s(jnp.asarray(steps)))
    noisy = np.asarray(case["noise"]) != 0
    np.testing.assert_allclose(got[~noisy], clean[~noisy], rtol=1e-10)
    ratio = got[noisy] / clean[noisy] - 1
    pct = case["params"]["noise_pct"]
    assert np.all(np.abs(ratio) < pct)
    assert np.all(ratio != 0)
    # Same law: a normal truncated to (-pct, pct); compare the spread with the reference's.
    assert abs(np.std(ratio) - np.std(np.asarray(case["noise"])[noisy])) < 0.5 * pct


def test_every_shared_schedule_case_is_replayed():
    names = {c["name"] for c in CASES}
    libraries = {c["library"] for c in CASES}
    assert libraries == {"torch", "keras", "timm"}
    assert len(names) == len(CASES) >= 70
