"""What recognises a stand-in: the base class of StandIn, and ``raw`` to unwrap one.

Below both value.py (StandIn) and arrays.py (the NumPy functions StandIn dispatches to),
so arrays.py can unwrap stand-ins without importing value.py, which imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["StandInBase", "raw"]


class StandInBase:
    """A stand-in's identity: ``array``, an ndarray of SymPy expressions (dtype object)."""

    __slots__ = ()
    array: np.ndarray


def raw(x: Any) -> Any:
    """The object array of a stand-in, also inside lists and tuples; anything else as it is."""
    if isinstance(x, StandInBase):
        return x.array
    if isinstance(x, (list, tuple)):
        return type(x)(raw(i) for i in x)
    return x
