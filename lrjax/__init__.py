"""lrjax: learning-rate schedules and adaptive methods for JAX."""

from lrjax import compat, schedules

__version__ = "0.1.0"

__all__ = ["compat", "schedules"]
