"""Python functions as models: ``check`` of a function, and ``check_grad``."""

from .check import DEFAULT_DIRECTIONS, PROJECTION_THRESHOLD, check_function, check_grad
from .symbolic import SYMBOLIC_LIMIT

__all__ = ["check_function", "check_grad", "SYMBOLIC_LIMIT", "PROJECTION_THRESHOLD",
           "DEFAULT_DIRECTIONS"]
