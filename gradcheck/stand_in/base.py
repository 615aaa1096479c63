"""What recognises a stand-in (its base class, ``raw`` to unwrap one), the operation
budget every stand-in of one trace shares, and how constant operands enter a trace.

Below value.py (StandIn) and the modules of NumPy functions StandIn dispatches to, so
those can unwrap stand-ins and spend the budget without importing value.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..errors import UnsupportedOperation

__all__ = ["StandInBase", "Budget", "raw", "budget_of", "charge", "whole", "operand"]


class Budget:
    """Element operations left for one trace, shared by every StandIn it creates."""

    def __init__(self, limit: int):
        self.limit = self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise UnsupportedOperation(
                f"the symbolic expression grew past {self.limit:,} element operations; "
                "too large for SymPy")


class StandInBase:
    """A stand-in's identity: ``array``, an ndarray of SymPy expressions (dtype object),
    and the ``budget`` of its trace."""

    __slots__ = ()
    array: np.ndarray
    budget: Budget


def raw(x: Any) -> Any:
    """The object array of a stand-in, also inside lists and tuples; anything else as it is."""
    if isinstance(x, StandInBase):
        return x.array
    if isinstance(x, (list, tuple)):
        return type(x)(raw(i) for i in x)
    return x


def budget_of(values: Any) -> Budget | None:
    """The budget of the first stand-in among ``values`` (searched inside lists and tuples)."""
    for x in values:
        if isinstance(x, StandInBase):
            return x.budget
        if isinstance(x, (list, tuple)):
            found = budget_of(x)
            if found is not None:
                return found
    return None


def charge(values: Any, count: int) -> None:
    """Spend ``count`` operations from the budget of the stand-ins among ``values``, before
    the work, so an operation too large for SymPy is stopped instead of started."""
    budget = budget_of(values)
    if budget is not None:
        budget.spend(count)


def whole(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53 else v


_WHOLE = np.frompyfunc(whole, 1, 1)


def operand(x: Any) -> Any:
    """A constant operand with whole floats as ints: 2*w, not 2.0*w; the same number exactly."""
    if isinstance(x, StandInBase):
        return x.array
    if isinstance(x, (float, np.floating)):
        return whole(float(x))
    x = raw(x)
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=object if any(isinstance(e, sympy.Basic) for e in np.ravel(x)) else None)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return _WHOLE(x.astype(object))
    if isinstance(x, np.ndarray) and x.dtype.kind == "b":  # a mask: SymPy has no Symbol * bool
        return x.astype(int)
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    return x
