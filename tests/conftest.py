import jax
import pytest


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats (peer references are float64)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True)
def _fresh_trace_counts():
    """chex.assert_max_traces counts per function across tests; start each test at zero."""
    import chex

    chex.clear_trace_counter()
