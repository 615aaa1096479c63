"""The options every check takes, checked once for every kind of check."""

from __future__ import annotations

import math
from typing import Any

from .errors import InputError
from .numeric import METHODS

__all__ = ["check_options", "check_seed", "whole_number"]


def check_options(rtol: Any, atol: Any, method: Any) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value < 0):
            raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    if method not in METHODS + ("auto",):
        raise InputError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}")


def whole_number(value: Any, name: str, low: int) -> int:
    """``value`` as an int, if it is a whole number >= ``low`` (not a bool); else InputError."""
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < low:
        raise InputError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def check_seed(seed: Any) -> int:
    return whole_number(seed, "seed", 0)
