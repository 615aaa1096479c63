"""The options every check takes, checked once for every kind of check."""

from __future__ import annotations

import math
from typing import Any

from .errors import InputError
from .numeric import METHODS

__all__ = ["check_options", "check_seed"]


def check_options(rtol: Any, atol: Any, method: Any) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value < 0):
            raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    if method not in METHODS + ("auto",):
        raise InputError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}")


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not hasattr(seed, "__index__") or int(seed) < 0:
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)
